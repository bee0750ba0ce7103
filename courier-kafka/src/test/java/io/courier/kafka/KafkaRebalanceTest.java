package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class KafkaRebalanceTest extends KafkaTestSupport {

    private static final int MESSAGES = 600;

    /**
     * A second consumer joins the group while the first is busy, takes over some partitions, then
     * leaves again: every message is handled, and the duplicates the moves cause are counted and
     * bounded by what can be in flight.
     */
    @Test
    void consumerJoiningAndLeavingLosesNothingAndDuplicatesAreBounded() {
        String topic = unique("rebalance");
        String group = unique("g");
        Map<String, AtomicInteger> handled = new ConcurrentHashMap<>();
        AtomicInteger byFirst = new AtomicInteger();
        AtomicInteger bySecond = new AtomicInteger();
        SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(3).maxInFlight(6).build();
        KafkaConfig cfg = config().partitions(topic, 6).build();
        try (KafkaTransport first = KafkaTransport.create(cfg); KafkaTransport second = KafkaTransport.create(cfg)) {
            first.subscriber().subscribe(options, d -> {
                TimeUnit.MILLISECONDS.sleep(5); // simulated work, so that records are in flight during the rebalance
                handled.computeIfAbsent(d.message().id(), id -> new AtomicInteger()).incrementAndGet();
                byFirst.incrementAndGet();
            });
            List<Message> messages = new ArrayList<>();
            for (int i = 0; i < MESSAGES; i++) {
                messages.add(Message.builder().key("k" + (i % 40)).payload(new byte[] {(byte) i}).build());
            }
            // A third before the second consumer joins, a third while both run, a third after it left.
            first.publisher().publishAll(topic, messages.subList(0, 200)).join();

            await().atMost(Duration.ofSeconds(60)).until(() -> byFirst.get() >= 50);
            Subscription joined = second.subscriber().subscribe(options, d -> {
                TimeUnit.MILLISECONDS.sleep(5);
                handled.computeIfAbsent(d.message().id(), id -> new AtomicInteger()).incrementAndGet();
                bySecond.incrementAndGet();
            });
            first.publisher().publishAll(topic, messages.subList(200, 400)).join();
            await().atMost(Duration.ofSeconds(60)).until(() -> bySecond.get() >= 30);
            joined.close();
            first.publisher().publishAll(topic, messages.subList(400, MESSAGES)).join();

            await().atMost(Duration.ofSeconds(60)).until(() -> handled.size() == MESSAGES);
            int deliveries = handled.values().stream().mapToInt(AtomicInteger::get).sum();
            int duplicates = deliveries - MESSAGES;
            // Commits on revocation and close leave nothing to redeliver unless a commit raced the move;
            // never more than what can be in flight in both consumers.
            assertThat(duplicates).as("duplicates").isBetween(0, 2 * options.maxInFlight());
            System.out.printf("rebalance: %d deliveries of %d messages, %d duplicates, first %d, second %d%n",
                    deliveries, MESSAGES, duplicates, byFirst.get(), bySecond.get());
        }
    }
}
