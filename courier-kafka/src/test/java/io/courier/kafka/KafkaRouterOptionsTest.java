package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.MessageOrdering;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.TransportOption;
import io.courier.kafka.internal.KafkaSubscriptionImpl;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Kafka settings reach a subscription made through a {@link Router}, attached to its options. */
class KafkaRouterOptionsTest extends KafkaTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(45);

    private record PigeonOption(int birds) implements TransportOption {
    }

    /**
     * With {@code RetryMode.IN_PLACE} attached, a record that fails twice is handled before the records
     * after it; with the transport's default (retry topic) it would come back after them.
     */
    @Test
    void inPlaceRetryAttachedToARouteKeepsOrderAcrossFailures() {
        String topic = unique("route-in-place");
        KafkaSubscriptionOptions inPlace = KafkaSubscriptionOptions.builder().retryMode(RetryMode.IN_PLACE).build();
        List<String> handled = new CopyOnWriteArrayList<>();
        AtomicInteger m3Attempts = new AtomicInteger();
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 1).build());
             Router router = Router.builder(kafka).build()) {
            router.route(SubscriptionOptions.builder(topic, unique("g")).concurrency(4)
                    .failureRedeliveryDelay(Duration.ofMillis(300)).with(inPlace).build(), d -> {
                        String text = d.message().payloadAsText();
                        if (text.equals("m3") && m3Attempts.incrementAndGet() < 3) {
                            throw new IllegalStateException("fails twice");
                        }
                        handled.add(text + "#" + d.attempt());
                    }).start();
            assertThat(((KafkaSubscriptionImpl) router.subscriptions().get(0)).kafkaOptions()).isEqualTo(inPlace);
            for (int i = 0; i < 6; i++) {
                kafka.publisher().publish(topic, Message.builder().key("k")
                        .payload(("m" + i).getBytes(StandardCharsets.UTF_8)).build()).join();
            }
            await().atMost(WAIT).until(() -> handled.size() == 6);
            assertThat(handled).containsExactly("m0#1", "m1#1", "m2#1", "m3#3", "m4#1", "m5#1");
        }
    }

    /** {@code MessageOrdering.KEY} runs the keys of one partition concurrently, each in publish order. */
    @Test
    void keyOrderingThroughARouteRunsKeyLanes() throws Exception {
        String topic = unique("route-key");
        List<String> seen = new CopyOnWriteArrayList<>();
        AtomicInteger running = new AtomicInteger();
        AtomicInteger mostAtOnce = new AtomicInteger();
        java.util.concurrent.CountDownLatch bothRunning = new java.util.concurrent.CountDownLatch(2);
        try (KafkaTransport kafka = KafkaTransport.create(config().partitions(topic, 1).build());
             Router router = Router.builder(kafka).build()) {
            router.route(SubscriptionOptions.builder(topic, unique("g")).concurrency(4)
                    .ordering(MessageOrdering.KEY).build(), d -> {
                        mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
                        try {
                            String text = d.message().payloadAsText();
                            if (text.endsWith(":0")) {
                                // the first record of each key waits for the other key's: only key lanes get both running
                                bothRunning.countDown();
                                bothRunning.await(20, java.util.concurrent.TimeUnit.SECONDS);
                            }
                            seen.add(text);
                        } finally {
                            running.decrementAndGet();
                        }
                    }).start();
            assertThat(((KafkaSubscriptionImpl) router.subscriptions().get(0)).kafkaOptions().ordering())
                    .isEqualTo(Ordering.KEY);
            for (int i = 0; i < 5; i++) {
                for (String key : List.of("a", "b")) {
                    kafka.publisher().publish(topic, Message.builder().key(key)
                            .payload((key + ":" + i).getBytes(StandardCharsets.UTF_8)).build()).join();
                }
            }
            await().atMost(WAIT).until(() -> seen.size() == 10);
        }
        assertThat(mostAtOnce.get()).as("records of two keys in one partition handled at once").isEqualTo(2);
        assertThat(seen.stream().filter(s -> s.startsWith("a:")).toList()).containsExactly("a:0", "a:1", "a:2", "a:3", "a:4");
        assertThat(seen.stream().filter(s -> s.startsWith("b:")).toList()).containsExactly("b:0", "b:1", "b:2", "b:3", "b:4");
    }

    @Test
    void aRouteWithAnotherTransportsOptionFailsAtStartNamingIt() {
        String topic = unique("route-foreign");
        try (KafkaTransport kafka = KafkaTransport.create(config().build());
             Router router = Router.builder(kafka).build()) {
            router.route(SubscriptionOptions.builder(topic, "g").with(new PigeonOption(2)).build(), d -> { });
            assertThatThrownBy(router::start)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("kafka transport does not understand")
                    .hasMessageContaining(PigeonOption.class.getName());
            assertThat(router.subscriptions()).isEmpty();
        }
    }

    /** The three-argument subscribe is the same as attaching the Kafka options, which it replaces. */
    @Test
    void explicitKafkaOptionsReplaceAttachedOnes() {
        String topic = unique("explicit");
        KafkaSubscriptionOptions attached = KafkaSubscriptionOptions.builder().ordering(Ordering.KEY).build();
        KafkaSubscriptionOptions explicit = KafkaSubscriptionOptions.builder().retryMode(RetryMode.IN_PLACE).build();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            KafkaSubscriptionImpl s = (KafkaSubscriptionImpl) kafka.subscriber().subscribe(
                    SubscriptionOptions.builder(topic, "g").with(attached).build(), explicit, d -> { });
            assertThat(s.kafkaOptions()).isEqualTo(explicit);
            assertThat(s.options().option(KafkaSubscriptionOptions.class)).contains(explicit);
        }
    }
}
