package io.courier.kafka;

import io.courier.testkit.KafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.BatchPublishException;
import io.courier.Delivery;
import io.courier.Message;
import io.courier.MessageTooLargeException;
import io.courier.PublishResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;

class KafkaPublishTest extends KafkaTestSupport {

    /**
     * A broker announces a new topic a moment before it has created the partitions' logs; an
     * idempotent producer sending in that moment can lose records (KAFKA-15591). So the transport's
     * topic is ready only once every partition is online on its leader: right after
     * {@code ensureTopic} returns, the broker's log directories hold every partition (without the
     * wait they lag the creation by tens of milliseconds, partition after partition).
     */
    @Test
    void aTopicTheTransportCreatesIsOnlineOnItsBrokerWhenEnsureTopicReturns() throws Exception {
        String topic = unique("online");
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 24).build());
             org.apache.kafka.clients.admin.Admin admin = admin()) {
            assertThat(kafka.ensureTopic(topic)).isEqualTo(24);

            java.util.Set<Integer> brokers = new java.util.HashSet<>();
            admin.describeCluster().nodes().get().forEach(n -> brokers.add(n.id()));
            java.util.Set<Integer> online = new java.util.HashSet<>();
            admin.describeLogDirs(brokers).allDescriptions().get().values().forEach(dirs -> dirs.values().forEach(
                    dir -> dir.replicaInfos().keySet().forEach(tp -> {
                        if (tp.topic().equals(topic)) {
                            online.add(tp.partition());
                        }
                    })));
            assertThat(online).hasSize(24);
        }
    }

    @Test
    void roundTripKeepsIdKeyHeadersPayloadAndTimestamp() {
        String topic = unique("roundtrip");
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            List<Delivery> received = new CopyOnWriteArrayList<>();
            kafka.subscriber().subscribe(topic, "g", received::add);
            Message sent = Message.builder()
                    .key("order-42")
                    .header("content-type", "application/json")
                    .header("ce-type", "order.created")
                    .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                    .header("x-ünïcode", "välue ✓")
                    .payload("{\"id\":42}".getBytes(StandardCharsets.UTF_8))
                    .timestamp(Instant.parse("2024-05-01T10:15:30.123456789Z"))
                    .build();

            PublishResult result = kafka.publisher().publish(topic, sent).join();

            assertThat(result.messageId()).isEqualTo(sent.id());
            assertThat(result.topic()).isEqualTo(topic);
            assertThat(result.position()).hasValueSatisfying(p -> assertThat(p).matches("\\d+@\\d+"));
            await().atMost(Duration.ofSeconds(30)).until(() -> received.size() == 1);
            Delivery d = received.get(0);
            assertThat(d.message()).isEqualTo(sent);
            assertThat(d.topic()).isEqualTo(topic);
            assertThat(d.group()).isEqualTo("g");
            assertThat(d.attempt()).isEqualTo(1);
        }
    }

    @Test
    void headersFollowTheCloudEventsKafkaBindingOnTheWire() throws Exception {
        String topic = unique("wire");
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            Message sent = Message.builder().key("k1").header("ce-type", "order.created").header("ce-source", "/shop")
                    .header("content-type", "application/json").payload(new byte[] {1, 2, 3}).build();
            String position = kafka.publisher().publish(topic, sent).join().position().orElseThrow();

            ConsumerRecord<byte[], byte[]> record = readOne(topic);
            assertThat(record.partition() + "@" + record.offset()).isEqualTo(position);
            assertThat(header(record, "ce_type")).isEqualTo("order.created");
            assertThat(header(record, "ce_source")).isEqualTo("/shop");
            assertThat(header(record, "ce_id")).isEqualTo(sent.id());
            assertThat(Instant.parse(header(record, "ce_time"))).isEqualTo(sent.timestamp());
            assertThat(header(record, "content-type")).isEqualTo("application/json");
            assertThat(record.timestamp()).isEqualTo(sent.timestamp().toEpochMilli());
            // Kafka's default partitioner: murmur2 of the key, as every other Kafka client computes it.
            int partitions = kafka.ensureTopic(topic);
            assertThat(record.partition()).isEqualTo(Utils.toPositive(Utils.murmur2("k1".getBytes(StandardCharsets.UTF_8))) % partitions);
        }
    }

    @Test
    void messagesWithTheSameKeyGoToTheSamePartition() {
        String topic = unique("keys");
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            List<String> positions = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                positions.add(kafka.publisher().publish(topic, Message.builder().key("same").payload(new byte[] {(byte) i}).build())
                        .join().position().orElseThrow());
            }
            assertThat(positions.stream().map(p -> p.substring(0, p.indexOf('@'))).distinct()).hasSize(1);
            List<Long> offsets = positions.stream().map(p -> Long.parseLong(p.substring(p.indexOf('@') + 1))).toList();
            assertThat(offsets).isSorted();
        }
    }

    @Test
    void publishAllReportsEachMessagesOutcome() {
        String topic = unique("batch");
        try (KafkaTransport kafka = KafkaTransport.create(config().maxPayloadBytes(1000).build())) {
            Message ok1 = Message.ofText("one");
            Message tooBig = Message.of(new byte[1001]);
            Message ok2 = Message.ofText("three");

            assertThatThrownBy(() -> kafka.publisher().publishAll(topic, List.of(ok1, tooBig, ok2)).join())
                    .isInstanceOf(CompletionException.class)
                    .cause()
                    .isInstanceOfSatisfying(BatchPublishException.class, e -> {
                        assertThat(e.outcomes()).hasSize(3);
                        assertThat(e.outcomes().get(0).result()).isPresent();
                        assertThat(e.outcomes().get(1).failure()).containsInstanceOf(MessageTooLargeException.class);
                        assertThat(e.outcomes().get(2).result()).isPresent();
                    });

            List<PublishResult> results = kafka.publisher().publishAll(topic, List.of(Message.ofText("a"), Message.ofText("b"))).join();
            assertThat(results).hasSize(2).allSatisfy(r -> assertThat(r.position()).isPresent());
        }
    }

    @Test
    void transactionalPublishAllIsAllOrNothing() throws Exception {
        String topic = unique("tx");
        // The broker refuses records over 2,000 bytes on this topic; the client allows them, so the
        // refusal happens inside the transaction, after the first records were sent.
        createTopic(topic, 3, Map.of("max.message.bytes", "2000"));
        KafkaConfig cfg = config().transactionalId(unique("courier-test-tx")).maxPayloadBytes(10_000).build();
        try (KafkaTransport kafka = KafkaTransport.create(cfg)) {
            List<String> seen = new CopyOnWriteArrayList<>();
            kafka.subscriber().subscribe(topic, "g", d -> seen.add(d.message().payloadAsText()));

            List<PublishResult> ok = kafka.publisher().publishAll(topic, List.of(Message.ofText("a1"), Message.ofText("a2"))).join();
            assertThat(ok).hasSize(2);

            Message big = Message.of(new byte[5000]);
            assertThatThrownBy(() -> kafka.publisher().publishAll(topic, List.of(Message.ofText("b1"), big, Message.ofText("b3"))).join())
                    .cause()
                    .isInstanceOfSatisfying(BatchPublishException.class,
                            e -> assertThat(e.outcomes()).hasSize(3).allSatisfy(o -> assertThat(o.failure()).isPresent()));

            kafka.publisher().publishAll(topic, List.of(Message.ofText("c1"))).join();
            await().atMost(Duration.ofSeconds(30)).until(() -> seen.contains("c1"));
            assertThat(seen).containsExactlyInAnyOrder("a1", "a2", "c1");
        }
    }

    @Test
    void aRecordOverTheTopicsMaxMessageBytesIsAMessageTooLargeExceptionFromTheBroker() throws Exception {
        String topic = unique("small-records");
        // The broker refuses records over 2,000 bytes on this topic; Courier's own limit lets 5,000 pass.
        createTopic(topic, 3, Map.of("max.message.bytes", "2000"));
        try (KafkaTransport kafka = KafkaTransport.create(config().maxPayloadBytes(10_000).build())) {
            Message big = Message.of(new byte[5000]);
            assertThatThrownBy(() -> kafka.publisher().publish(topic, big).join())
                    .isInstanceOf(CompletionException.class)
                    .cause()
                    .isInstanceOfSatisfying(MessageTooLargeException.class, e -> {
                        assertThat(e.size()).isEqualTo(5000);
                        assertThat(e.limit()).isEqualTo(MessageTooLargeException.UNKNOWN_LIMIT);
                        assertThat(e.topic()).isEqualTo(topic);
                    })
                    .hasMessageStartingWith("message " + big.id() + " to topic '" + topic + "' was refused as too large by Kafka and not published")
                    .hasMessageNotContaining("may or may not");

            Message small = Message.ofText("fits");
            assertThatThrownBy(() -> kafka.publisher().publishAll(topic, List.of(small, big)).join())
                    .cause()
                    .isInstanceOfSatisfying(BatchPublishException.class, e -> {
                        assertThat(e.outcomes().get(0).result()).isPresent();
                        assertThat(e.outcomes().get(1).failure()).containsInstanceOf(MessageTooLargeException.class);
                    });
            assertThat(kafka.publisher().publish(topic, Message.ofText("after")).join().position()).isPresent();
        }
    }

    @Test
    void existingTopicWithTooFewPartitionsIsAClearError() throws Exception {
        String topic = unique("narrow");
        createTopic(topic, 1, Map.of());
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(3).build())) {
            assertThatThrownBy(() -> kafka.publisher().publish(topic, Message.ofText("x")))
                    .isInstanceOfSatisfying(TopicPartitionsException.class, e -> {
                        assertThat(e.actual()).isEqualTo(1);
                        assertThat(e.required()).isEqualTo(3);
                    })
                    .hasMessageContaining("topic '" + topic + "' has 1 partition, but at least 3 are required");
            assertThatThrownBy(() -> kafka.subscriber().subscribe(topic, "g", d -> { }))
                    .isInstanceOf(TopicPartitionsException.class);
        }
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 1).build())) {
            assertThat(kafka.publisher().publish(topic, Message.ofText("x")).join().position()).hasValue("0@0");
        }
    }

    @Test
    void illegalTopicNamesAndOversizePayloadsAreRefusedBeforeSending() {
        try (KafkaTransport kafka = KafkaTransport.create(config().maxPayloadBytes(10).build())) {
            assertThatThrownBy(() -> kafka.publisher().publish("has space", Message.ofText("x")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("may contain only ASCII letters, digits");
            assertThatThrownBy(() -> kafka.publisher().publish(unique("big"), Message.of(new byte[11])))
                    .isInstanceOf(MessageTooLargeException.class);
        }
    }

    private static ConsumerRecord<byte[], byte[]> readOne(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaBroker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, unique("raw"));
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                c.poll(Duration.ofMillis(200)).forEach(got::add);
                return !got.isEmpty();
            });
            return got.get(0);
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
