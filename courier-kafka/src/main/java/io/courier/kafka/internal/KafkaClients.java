package io.courier.kafka.internal;

import io.courier.StartPosition;
import io.courier.kafka.KafkaConfig;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Creates the Kafka clients of one transport from its {@link KafkaConfig}: the settings Courier fixes
 * (idempotence, {@code acks=all}, manual commits, read-committed isolation), then the configured ones,
 * then the user's passthrough properties, which win. Thread-safe.
 */
public final class KafkaClients {

    /** Room for headers and the key above the payload limit in a record. */
    public static final int RECORD_OVERHEAD_BYTES = 64 * 1024;

    private final KafkaConfig config;
    private final AtomicInteger sequence = new AtomicInteger();

    /** Clients for {@code config}. */
    public KafkaClients(KafkaConfig config) {
        this.config = config;
    }

    /** The configuration. */
    public KafkaConfig config() {
        return config;
    }

    /** The producer settings, before the passthrough properties; {@code transactionalId} may be null. */
    public Map<String, Object> producerProperties(String transactionalId) {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId(transactionalId != null ? "tx-producer" : "producer"));
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, millis(config.deliveryTimeout()));
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, millis(config.requestTimeout()));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (long) millis(config.maxBlock()));
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, config.compression().kafkaName());
        p.put(ProducerConfig.LINGER_MS_CONFIG, millis(config.linger()));
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, config.batchSizeBytes());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Math.max(1024 * 1024, config.maxPayloadBytes() + RECORD_OVERHEAD_BYTES));
        // Keep the known partitions through a broker outage. With the default "rebootstrap" the producer
        // forgets them once no broker answers, and every publish then blocks for up to maxBlock
        // waiting for metadata instead of queueing its record until the broker is back.
        p.put(CommonClientConfigs.METADATA_RECOVERY_STRATEGY_CONFIG, "none");
        if (transactionalId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        return p;
    }

    /** A byte-array producer; idempotent, {@code acks=all}; transactional when {@code transactionalId} is not null. */
    public KafkaProducer<byte[], byte[]> producer(String transactionalId) {
        Map<String, Object> p = new HashMap<>(config.connectionProperties());
        p.putAll(producerProperties(transactionalId));
        p.putAll(config.properties());
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /**
     * A byte-array consumer in {@code group}: manual commits, read-committed, the configured assignment
     * strategy, at most {@code maxPollRecords} records per poll, and a session timeout of
     * {@code sessionTimeout} (the configured one wins when set). New partitions start at the earliest
     * offset; a subscription that wants {@link StartPosition#LATEST} seeks explicitly.
     */
    public KafkaConsumer<byte[], byte[]> consumer(String group, String role, int maxPollRecords, Duration sessionTimeout) {
        Map<String, Object> p = new HashMap<>(config.connectionProperties());
        Duration session = config.sessionTimeout().orElse(sessionTimeout);
        int sessionMs = millis(session);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId(role));
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, config.assignmentStrategy().assignorClass());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxPollRecords);
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, sessionMs);
        // Frequent heartbeats: members learn of a rebalance from the heartbeat response, so this bounds
        // how long a joining consumer waits for the others (twice, with cooperative rebalancing).
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Math.max(100, Math.min(1000, sessionMs / 3)));
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, millis(config.requestTimeout()));
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis(config.operationTimeout()));
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Math.max(1024 * 1024, config.maxPayloadBytes() + RECORD_OVERHEAD_BYTES));
        p.putAll(config.properties());
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** An admin client. */
    public Admin admin() {
        Map<String, Object> p = new HashMap<>(config.connectionProperties());
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, clientId("admin"));
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, millis(config.requestTimeout()));
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, millis(config.operationTimeout()));
        p.putAll(config.properties());
        return Admin.create(p);
    }

    private String clientId(String role) {
        return config.clientId() + "-" + role + "-" + sequence.incrementAndGet();
    }

    private static int millis(Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, d.toMillis());
    }
}
