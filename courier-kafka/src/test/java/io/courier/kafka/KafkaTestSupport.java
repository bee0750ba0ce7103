package io.courier.kafka;

import io.courier.testkit.KafkaBroker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.extension.ExtendWith;

/** Shared helpers of the broker tests: unique names, a test config, raw admin and producer clients. */
@ExtendWith(KafkaBroker.class)
public abstract class KafkaTestSupport {

    private static final Set<String> NAMES = ConcurrentHashMap.newKeySet();

    /** A unique, legal topic or group name; topics starting with it are deleted after the test class. */
    protected static String unique(String prefix) {
        String name = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        NAMES.add(name);
        return name;
    }

    /**
     * Deletes the topics the class created (and their retry and dead-letter topics), so that the broker
     * stays small and restarts quickly however often the tests run.
     */
    @AfterAll
    static void deleteTestTopics() throws Exception {
        deleteTopicsStartingWith(Set.copyOf(NAMES));
        NAMES.clear();
    }

    /** Deletes every topic whose name starts with one of {@code prefixes}. */
    static void deleteTopicsStartingWith(Set<String> prefixes) throws Exception {
        if (prefixes.isEmpty()) {
            return;
        }
        try (Admin admin = admin()) {
            List<String> doomed = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> prefixes.stream().anyMatch(t::startsWith))
                    .toList();
            if (!doomed.isEmpty()) {
                admin.deleteTopics(doomed).all().get(60, TimeUnit.SECONDS);
            }
        }
    }

    /** The configuration tests use: the test broker, 3 partitions, short timeouts. */
    protected static KafkaConfig.Builder config() {
        return KafkaConfig.builder()
                .bootstrapServers(KafkaBroker.bootstrapServers())
                .clientId("courier-test")
                .partitions(3)
                .commitInterval(Duration.ofMillis(200))
                .operationTimeout(Duration.ofSeconds(30));
    }

    /** A raw admin client for the test broker. */
    protected static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaBroker.bootstrapServers());
        return Admin.create(p);
    }

    /** A raw producer, for records that Courier would never write. */
    protected static KafkaProducer<byte[], byte[]> rawProducer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaBroker.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Creates {@code topic} with {@code partitions} partitions. */
    protected static void createTopic(String topic, int partitions, Map<String, String> configs) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(configs))).all().get(30, TimeUnit.SECONDS);
        }
    }

    /** The offsets {@code group} committed. */
    protected static Map<TopicPartition, OffsetAndMetadata> committedOffsets(String group) throws Exception {
        try (Admin admin = admin()) {
            return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        }
    }
}
