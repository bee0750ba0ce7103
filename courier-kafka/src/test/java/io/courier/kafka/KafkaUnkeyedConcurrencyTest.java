package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishResult;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * Messages without a key carry no order, so {@link Ordering#PARTITION} spreads them over enough lanes
 * for every handler: {@code concurrency(50)} on 6 partitions runs 50 handlers, not 6, and still
 * commits no offset past an unfinished record.
 */
class KafkaUnkeyedConcurrencyTest extends KafkaTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int PARTITIONS = 6;
    private static final int CONCURRENCY = 50;

    @Test
    void fiftyHandlersRunAtOnceOnSixPartitionsWhenMessagesHaveNoKey() throws Exception {
        String topic = unique("unkeyed-wide");
        String group = unique("g");
        int count = 200;
        AtomicInteger running = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        Set<String> handled = ConcurrentHashMap.newKeySet();
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, PARTITIONS).build())) {
            kafka.subscriber().subscribe(SubscriptionOptions.builder(topic, group).concurrency(CONCURRENCY).maxInFlight(200).build(), d -> {
                peak.accumulateAndGet(running.incrementAndGet(), Math::max);
                try {
                    // Hold every handler until all 50 run at once (or a generous time passed).
                    release.await(30, TimeUnit.SECONDS);
                    handled.add(d.message().id());
                } finally {
                    running.decrementAndGet();
                }
            });
            List<String> ids = publish(kafka, topic, count).keySet().stream().toList();
            await().atMost(WAIT).untilAsserted(() -> assertThat(peak.get()).as("handlers running at once").isEqualTo(CONCURRENCY));
            release.countDown();
            await().atMost(WAIT).until(() -> handled.containsAll(ids));
        }
        assertThat(peak.get()).isEqualTo(CONCURRENCY);
    }

    @Test
    void spreadRecordsAreCommittedOnlyWhenDoneAndNothingIsLostAcrossARestart() throws Exception {
        String topic = unique("unkeyed-restart");
        String group = unique("g");
        int count = 300;
        KafkaConfig cfg = config().partitions(topic, PARTITIONS).build();
        SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(CONCURRENCY).maxInFlight(200).build();
        Set<String> done = ConcurrentHashMap.newKeySet();
        Set<String> stuck = ConcurrentHashMap.newKeySet();
        Map<String, String> positions;
        try (KafkaTransport kafka = KafkaTransport.create(cfg)) {
            positions = publish(kafka, topic, count);
            List<String> ids = new ArrayList<>(positions.keySet());
            Set<String> doomed = new HashSet<>();
            for (int i = 0; i < ids.size(); i += 13) {
                doomed.add(ids.get(i));   // spread over every partition and lane
            }
            CountDownLatch never = new CountDownLatch(1);
            Subscription first = kafka.subscriber().subscribe(options, d -> {
                String id = d.message().id();
                if (doomed.contains(id)) {
                    stuck.add(id);
                    never.await();   // interrupted by the close below: a failure, not a verdict on the message
                }
                done.add(id);
            });
            // Records behind a stuck one in its lane wait; the other lanes go on. Close once several are
            // stuck, many are done, and offsets were committed while records were still unfinished.
            await().atMost(WAIT).until(() -> stuck.size() >= 5 && done.size() >= 50
                    && committedOffsets(group).values().stream().mapToLong(OffsetAndMetadata::offset).sum() > 0);
            first.close(Duration.ofMillis(500));
            assertThat(done).doesNotContainAnyElementsOf(stuck);
        }

        // Every record that did not finish lies at or after its partition's committed offset.
        Map<TopicPartition, OffsetAndMetadata> committed = committedOffsets(group);
        positions.forEach((id, position) -> {
            if (!done.contains(id)) {
                String[] p = position.split("@");
                OffsetAndMetadata c = committed.get(new TopicPartition(topic, Integer.parseInt(p[0])));
                assertThat(c == null ? 0 : c.offset()).as("committed offset of the partition of unfinished %s", position)
                        .isLessThanOrEqualTo(Long.parseLong(p[1]));
            }
        });

        Set<String> again = ConcurrentHashMap.newKeySet();
        try (KafkaTransport kafka = KafkaTransport.create(cfg)) {
            kafka.subscriber().subscribe(options, d -> {
                again.add(d.message().id());
                done.add(d.message().id());
            });
            await().atMost(WAIT).until(() -> done.containsAll(positions.keySet()));
        }
        assertThat(again).containsAll(stuck);
    }

    /** Publishes {@code count} messages without a key; their ids in publish order, with their partition@offset. */
    private static Map<String, String> publish(KafkaTransport kafka, String topic, int count) {
        List<Message> messages = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            messages.add(Message.ofText("m" + i));
        }
        Map<String, String> positions = new java.util.LinkedHashMap<>();
        for (PublishResult r : kafka.publisher().publishAll(topic, messages).join()) {
            positions.put(r.messageId(), r.position().orElseThrow());
        }
        return positions;
    }
}
