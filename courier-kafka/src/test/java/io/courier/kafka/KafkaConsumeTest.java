package io.courier.kafka;

import io.courier.testkit.KafkaBroker;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Delivery;
import io.courier.Headers;
import io.courier.Message;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class KafkaConsumeTest extends KafkaTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(45);

    /**
     * The classic bug: a failed record is skipped with {@code continue} while later offsets are
     * committed, so it is lost. Here record 3 fails once, later records succeed, the consumer is
     * restarted: record 3 is processed and nothing is lost.
     */
    @Test
    void failedRecordIsNotLostWhenLaterRecordsSucceedAndTheConsumerRestarts() {
        String topic = unique("seed-bug");
        String group = unique("g");
        KafkaConfig cfg = config().partitions(topic, 1).build();
        Set<String> succeeded = ConcurrentHashMap.newKeySet();
        AtomicInteger failures = new AtomicInteger();
        SubscriptionOptions options = SubscriptionOptions.builder(topic, group)
                .failureRedeliveryDelay(Duration.ofSeconds(3)).build();
        try (KafkaTransport kafka = KafkaTransport.create(cfg)) {
            kafka.subscriber().subscribe(options, d -> {
                String text = d.message().payloadAsText();
                if (text.equals("m3") && failures.getAndIncrement() == 0) {
                    throw new IllegalStateException("handler fails on m3 once");
                }
                succeeded.add(text);
            });
            for (int i = 0; i < 10; i++) {
                kafka.publisher().publish(topic, Message.ofText("m" + i)).join();
            }
            await().atMost(WAIT).until(() -> succeeded.size() == 9 && failures.get() == 1);
            assertThat(succeeded).doesNotContain("m3");
        }
        // Restart: a new transport (new consumer, new forwarder) in the same group.
        try (KafkaTransport kafka = KafkaTransport.create(cfg)) {
            List<Delivery> after = new CopyOnWriteArrayList<>();
            kafka.subscriber().subscribe(options, d -> {
                after.add(d);
                succeeded.add(d.message().payloadAsText());
            });
            await().atMost(WAIT).until(() -> succeeded.contains("m3"));
            assertThat(succeeded).hasSize(10);
            assertThat(after).filteredOn(d -> d.message().payloadAsText().equals("m3"))
                    .allSatisfy(d -> assertThat(d.attempt()).isEqualTo(2));
        }
    }

    /**
     * In-place mode keeps partition order across a failure, and a restart redelivers from the failed
     * record. The messages have a key: a partition's records without one carry no order and are spread
     * over several lanes when the concurrency exceeds the partitions.
     */
    @Test
    void inPlaceRetryKeepsOrderAndNeverCommitsPastTheFailedRecord() throws Exception {
        String topic = unique("in-place");
        String group = unique("g");
        KafkaConfig cfg = config().partitions(topic, 1).build();
        KafkaSubscriptionOptions inPlace = KafkaSubscriptionOptions.builder().retryMode(RetryMode.IN_PLACE).build();
        List<String> handled = new CopyOnWriteArrayList<>();
        try (KafkaTransport kafka = KafkaTransport.create(cfg)) {
            SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(4)
                    .failureRedeliveryDelay(Duration.ofMillis(300)).build();
            AtomicInteger m3Attempts = new AtomicInteger();
            kafka.subscriber().subscribe(options, inPlace, d -> {
                String text = d.message().payloadAsText();
                if (text.equals("m3") && m3Attempts.incrementAndGet() < 3) {
                    throw new IllegalStateException("fails twice");
                }
                handled.add(text + "#" + d.attempt());
            });
            for (int i = 0; i < 6; i++) {
                kafka.publisher().publish(topic, keyed("m" + i)).join();
            }
            await().atMost(WAIT).until(() -> handled.size() == 6);
            assertThat(handled).containsExactly("m0#1", "m1#1", "m2#1", "m3#3", "m4#1", "m5#1");
        }

        String stuckTopic = unique("in-place-stuck");
        KafkaConfig stuckCfg = config().partitions(stuckTopic, 1).build();
        CountDownLatch failedOnce = new CountDownLatch(1);
        try (KafkaTransport kafka = KafkaTransport.create(stuckCfg)) {
            SubscriptionOptions options = SubscriptionOptions.builder(stuckTopic, group)
                    .failureRedeliveryDelay(Duration.ofMinutes(5)).build();
            kafka.subscriber().subscribe(options, inPlace, d -> {
                if (d.message().payloadAsText().equals("m1")) {
                    failedOnce.countDown();
                    throw new IllegalStateException("fails; retried in five minutes");
                }
            });
            for (int i = 0; i < 4; i++) {
                kafka.publisher().publish(stuckTopic, keyed("m" + i)).join();
            }
            assertThat(failedOnce.await(45, TimeUnit.SECONDS)).isTrue();
            await().atMost(WAIT).until(() -> committedOffset(group, stuckTopic) == 1L);
        }
        assertThat(committedOffset(group, stuckTopic)).isEqualTo(1L);
        List<String> redelivered = new CopyOnWriteArrayList<>();
        try (KafkaTransport kafka = KafkaTransport.create(stuckCfg)) {
            kafka.subscriber().subscribe(stuckTopic, group, d -> redelivered.add(d.message().payloadAsText()));
            await().atMost(WAIT).until(() -> redelivered.size() == 3);
            assertThat(redelivered).containsExactly("m1", "m2", "m3");
        }
    }

    /** Offsets of a partition never move past a record whose handler has not finished. */
    @Test
    void offsetsAreNeverCommittedPastAnUnfinishedRecord() throws Exception {
        String topic = unique("unfinished");
        String group = unique("g");
        CountDownLatch release = new CountDownLatch(1);
        Set<String> done = ConcurrentHashMap.newKeySet();
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 1).build())) {
            SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(4).maxInFlight(40).build();
            KafkaSubscriptionOptions byKey = KafkaSubscriptionOptions.builder().ordering(Ordering.KEY).build();
            kafka.subscriber().subscribe(options, byKey, d -> {
                if (d.message().payloadAsText().equals("m5")) {
                    release.await();
                }
                done.add(d.message().payloadAsText());
            });
            for (int i = 0; i < 20; i++) {
                kafka.publisher().publish(topic, Message.builder().key("k" + i).payload(("m" + i).getBytes(StandardCharsets.UTF_8)).build()).join();
            }
            await().atMost(WAIT).until(() -> done.size() == 19);
            await().atMost(WAIT).until(() -> committedOffset(group, topic) == 5L);
            // Everything after m5 is finished, and still the commit stays at m5.
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> committedOffset(group, topic) == 5L);

            release.countDown();
            await().atMost(WAIT).until(() -> committedOffset(group, topic) == 20L);
        }
    }

    @ParameterizedTest
    @EnumSource(Ordering.class)
    void messagesWithOneKeyAreHandledInPublishOrder(Ordering ordering) {
        String topic = unique("order-" + ordering.name().toLowerCase());
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        AtomicInteger total = new AtomicInteger();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            assertThat(kafka.subscriber()).isInstanceOf(io.courier.KeyOrderedSubscriber.class);
            SubscriptionOptions options = SubscriptionOptions.builder(topic, "g").concurrency(4).maxInFlight(16).build();
            kafka.subscriber().subscribe(options, KafkaSubscriptionOptions.builder().ordering(ordering).build(), d -> {
                String[] parts = d.message().payloadAsText().split(":");
                seen.computeIfAbsent(parts[0], k -> new CopyOnWriteArrayList<>()).add(Integer.parseInt(parts[1]));
                total.incrementAndGet();
            });
            List<Message> batch = new ArrayList<>();
            for (int seq = 0; seq < 30; seq++) {
                for (int k = 0; k < 10; k++) {
                    batch.add(Message.builder().key("key" + k).payload(("key" + k + ":" + seq).getBytes(StandardCharsets.UTF_8)).build());
                }
            }
            kafka.publisher().publishAll(topic, batch).join();
            await().atMost(WAIT).until(() -> total.get() >= 300);
            assertThat(seen).hasSize(10);
            seen.values().forEach(list -> assertThat(list).hasSize(30).isSorted());
        }
    }

    /** A retry of one group never reaches the other groups of the topic. */
    @Test
    void retriesGoOnlyToTheGroupWhoseHandlerFailed() {
        String topic = unique("groups");
        List<Integer> attemptsA = new CopyOnWriteArrayList<>();
        AtomicInteger deliveriesB = new AtomicInteger();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            SubscriptionOptions a = SubscriptionOptions.builder(topic, "a").failureRedeliveryDelay(Duration.ofMillis(500)).build();
            kafka.subscriber().subscribe(a, d -> {
                attemptsA.add(d.attempt());
                if (d.attempt() == 1) {
                    throw new IllegalStateException("group a fails the first attempt");
                }
            });
            kafka.subscriber().subscribe(topic, "b", d -> deliveriesB.incrementAndGet());
            kafka.publisher().publish(topic, Message.ofText("once")).join();

            await().atMost(WAIT).until(() -> attemptsA.size() == 2);
            assertThat(attemptsA).containsExactly(1, 2);
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> deliveriesB.get() == 1);
        }
    }

    @Test
    void retryAfterComesBackLaterWithItsHeadersAndTheNextAttempt() {
        String topic = unique("retry-after");
        List<Delivery> deliveries = new CopyOnWriteArrayList<>();
        List<Instant> times = new CopyOnWriteArrayList<>();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            kafka.subscriber().subscribe(topic, "g", d -> {
                deliveries.add(d);
                times.add(Instant.now());
                if (d.attempt() == 1) {
                    d.retryAfter(Duration.ofSeconds(2), Map.of("x-reason", "not yet"));
                }
            });
            Message sent = Message.builder().key("k").header("ce-type", "t").payload(new byte[] {7}).build();
            kafka.publisher().publish(topic, sent).join();

            await().atMost(WAIT).until(() -> deliveries.size() == 2);
            Delivery retried = deliveries.get(1);
            assertThat(retried.attempt()).isEqualTo(2);
            assertThat(retried.topic()).isEqualTo(topic);
            assertThat(retried.message().id()).isEqualTo(sent.id());
            assertThat(retried.message().key()).hasValue("k");
            assertThat(retried.message().headers()).containsEntry("x-reason", "not yet").containsEntry("ce-type", "t");
            assertThat(Duration.between(times.get(0), times.get(1))).isGreaterThanOrEqualTo(Duration.ofMillis(1900));
        }
    }

    /**
     * A record that cannot be read as a message goes to the dead-letter topic; its partition keeps
     * moving. One handler, so that the partition's records (without keys) are handled in offset order.
     */
    @Test
    void poisonRecordGoesToTheDeadLetterTopicWhileThePartitionProgresses() throws Exception {
        String topic = unique("poison");
        String group = unique("g");
        List<String> handled = new CopyOnWriteArrayList<>();
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 1).build());
             KafkaProducer<byte[], byte[]> raw = rawProducer()) {
            kafka.subscriber().subscribe(SubscriptionOptions.builder(topic, group).concurrency(1).build(),
                    d -> handled.add(d.message().payloadAsText()));
            raw.send(new ProducerRecord<>(topic, null, null, "before".getBytes(StandardCharsets.UTF_8))).get();
            RecordHeaders bad = new RecordHeaders();
            bad.add("x-binary", new byte[] {(byte) 0xC3, (byte) 0x28});
            raw.send(new ProducerRecord<byte[], byte[]>(topic, 0, (byte[]) null, "poison".getBytes(StandardCharsets.UTF_8), bad)).get();
            RecordHeaders badTime = new RecordHeaders();
            badTime.add("ce_time", "yesterday".getBytes(StandardCharsets.UTF_8));
            raw.send(new ProducerRecord<byte[], byte[]>(topic, 0, (byte[]) null, "poison-time".getBytes(StandardCharsets.UTF_8), badTime)).get();
            for (int i = 0; i < 3; i++) {
                raw.send(new ProducerRecord<>(topic, null, null, ("after" + i).getBytes(StandardCharsets.UTF_8))).get();
            }

            await().atMost(WAIT).until(() -> handled.size() == 4);
            assertThat(handled).containsExactly("before", "after0", "after1", "after2");
            await().atMost(WAIT).until(() -> committedOffset(group, topic) == 6L);

            List<ConsumerRecord<byte[], byte[]>> dead = readAll(KafkaTransport.deadLetterTopic(topic), 2);
            assertThat(dead).extracting(r -> new String(r.value(), StandardCharsets.UTF_8)).containsExactlyInAnyOrder("poison", "poison-time");
            ConsumerRecord<byte[], byte[]> first = byValue(dead, "poison");
            assertThat(header(first, Headers.DEAD_LETTER_REASON)).isEqualTo("unconvertible");
            assertThat(header(first, Headers.EXCEPTION_MESSAGE)).isEqualTo("the value of header 'x-binary' is not valid UTF-8");
            assertThat(header(first, Headers.ORIGINAL_TOPIC)).isEqualTo(topic);
            assertThat(header(first, Headers.DEAD_LETTER_GROUP)).isEqualTo(group);
            assertThat(first.headers().lastHeader("x-binary").value()).containsExactly((byte) 0xC3, (byte) 0x28);
            assertThat(header(byValue(dead, "poison-time"), Headers.EXCEPTION_MESSAGE)).contains("ce_time").contains("yesterday");
        }
    }

    @Test
    void latestGroupGetsOnlyMessagesPublishedAfterSubscribeReturns() {
        String topic = unique("latest");
        List<String> got = new CopyOnWriteArrayList<>();
        List<String> earliest = new CopyOnWriteArrayList<>();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            kafka.publisher().publish(topic, Message.ofText("before")).join();
            kafka.subscriber().subscribe(SubscriptionOptions.builder(topic, unique("late")).startPosition(StartPosition.LATEST).build(),
                    d -> got.add(d.message().payloadAsText()));
            kafka.publisher().publish(topic, Message.ofText("after")).join();
            kafka.subscriber().subscribe(topic, unique("early"), d -> earliest.add(d.message().payloadAsText()));

            await().atMost(WAIT).until(() -> earliest.size() == 2);
            await().atMost(WAIT).until(() -> got.contains("after"));
            assertThat(got).containsExactly("after");
            assertThat(earliest).containsExactlyInAnyOrder("before", "after");
        }
    }

    @Test
    void closeLetsTheHandlerFinishAndCommitsItsRecord() throws Exception {
        String topic = unique("close");
        String group = unique("g");
        CountDownLatch started = new CountDownLatch(1);
        AtomicInteger finished = new AtomicInteger();
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 1).build())) {
            Subscription s = kafka.subscriber().subscribe(topic, group, d -> {
                started.countDown();
                TimeUnit.MILLISECONDS.sleep(500); // simulated work that close must wait for
                finished.incrementAndGet();
            });
            kafka.publisher().publish(topic, Message.ofText("slow")).join();
            assertThat(started.await(45, TimeUnit.SECONDS)).isTrue();
            s.close();
            assertThat(s.isRunning()).isFalse();
            assertThat(finished.get()).isEqualTo(1);
            assertThat(committedOffset(group, topic)).isEqualTo(1L);
        }
    }

    /** A text message with one key for all, so that their partition's order applies to them. */
    private static Message keyed(String text) {
        return Message.builder().key("k").payload(text.getBytes(StandardCharsets.UTF_8)).build();
    }

    private static long committedOffset(String group, String topic) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = committedOffsets(group);
        OffsetAndMetadata o = offsets.get(new TopicPartition(topic, 0));
        return o == null ? -1 : o.offset();
    }

    private static List<ConsumerRecord<byte[], byte[]>> readAll(String topic, int expected) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, KafkaBroker.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, unique("raw"));
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
            await().atMost(WAIT).until(() -> {
                c.poll(Duration.ofMillis(200)).forEach(got::add);
                return got.size() >= expected;
            });
            return got;
        }
    }

    private static ConsumerRecord<byte[], byte[]> byValue(List<ConsumerRecord<byte[], byte[]>> records, String value) {
        return records.stream().filter(r -> new String(r.value(), StandardCharsets.UTF_8).equals(value)).findFirst().orElseThrow();
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
