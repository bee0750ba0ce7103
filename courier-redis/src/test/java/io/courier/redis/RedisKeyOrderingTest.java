package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.KeyOrderedSubscriber;
import io.courier.Message;
import io.courier.MessageOrdering;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.TransportOption;
import io.courier.testkit.fault.ChildJvm;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Per-key ordering ({@link RedisConfig.Builder#keyOrdering}) across consumers, crashes, dead letters and close. */
class RedisKeyOrderingTest extends RedisTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(60);

    private RedisStreamsTransport keyOrdered() {
        return transport(config().keyOrdering(true).build());
    }

    private static Message keyed(String key, String payload) {
        return Message.builder().key(key).payload(payload.getBytes(java.nio.charset.StandardCharsets.UTF_8)).build();
    }

    private List<String> keyLists(String topic) {
        return raw.keys(stream(topic) + ":key:*");
    }

    @Test
    void subscriberIsKeyOrderedExactlyWhenConfigured() {
        assertThat(keyOrdered().subscriber()).isInstanceOf(KeyOrderedSubscriber.class);
        assertThat(transport().subscriber()).isNotInstanceOf(KeyOrderedSubscriber.class);
        assertThat(RedisConfig.defaults().keyOrdering()).isFalse();
    }

    @Test
    void keyOrderingAskedOfASubscriptionNeedsTheTransportSetting() {
        SubscriptionOptions asking = SubscriptionOptions.builder("asked", "g").ordering(MessageOrdering.KEY).build();

        assertThatThrownBy(() -> transport().subscriber().subscribe(asking, d -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the subscription to topic 'asked', group 'g' asks for ordering MessageOrdering.KEY,"
                        + " but this redis transport does not keep per-key order")
                .hasMessageContaining("RedisConfig.builder().keyOrdering(true)");
        assertThat(raw.exists(stream("asked"))).as("nothing created for the refused subscription").isZero();

        Subscription accepted = keyOrdered().subscriber().subscribe(asking, d -> { });
        assertThat(accepted.options().ordering()).isEqualTo(MessageOrdering.KEY);
        accepted.close();
    }

    /** An option of another transport: refused in both modes, naming it, rather than ignored. */
    private record KafkaLikeOption(String ordering) implements TransportOption {
    }

    @Test
    void aTransportOptionIsRefusedNamingItAndTheTransport() {
        SubscriptionOptions foreign = SubscriptionOptions.builder("foreign", "g").with(new KafkaLikeOption("KEY")).build();
        for (RedisStreamsTransport redis : List.of(transport(), keyOrdered())) {
            assertThatThrownBy(() -> redis.subscriber().subscribe(foreign, d -> { }))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the redis transport does not understand the transport option "
                            + KafkaLikeOption.class.getName())
                    .hasMessageContaining("it understands no transport options");
        }
    }

    @Test
    void twoConsumersOfOneGroupHandleEveryKeyInPublishOrderOneAtATime() throws Exception {
        RedisStreamsTransport publisher = keyOrdered();
        int keys = 6;
        int perKey = 80;
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        AtomicBoolean overlapped = new AtomicBoolean();
        AtomicInteger[] byConsumer = {new AtomicInteger(), new AtomicInteger()};
        for (int c = 0; c < 2; c++) {
            int consumer = c;
            // Small in-flight budgets: consumers often hold entries whose key's head the other one holds.
            keyOrdered().subscriber().subscribe(SubscriptionOptions.builder("orders", "g").consumerName("c" + c)
                    .concurrency(4).maxInFlight(6).build(), d -> {
                String key = d.message().key().orElseThrow();
                if (running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                    overlapped.set(true);
                }
                try {
                    String text = d.message().payloadAsText();
                    seen.computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
                            .add(Integer.parseInt(text.substring(text.indexOf('#') + 1)));
                    byConsumer[consumer].incrementAndGet();
                    if (text.endsWith("0")) {
                        Thread.sleep(2);   // some work now and then, so that the consumers interleave
                    }
                } finally {
                    running.get(key).decrementAndGet();
                }
            });
        }
        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < perKey; i++) {
            for (int k = 0; k < keys; k++) {
                batch.add(keyed("key-" + k, "key-" + k + "#" + i));
            }
        }
        publisher.publisher().publishAll("orders", batch).get(30, TimeUnit.SECONDS);

        await().atMost(WAIT).until(() -> seen.values().stream().mapToInt(List::size).sum() >= keys * perKey);
        List<Integer> expected = IntStream.range(0, perKey).boxed().toList();
        for (int k = 0; k < keys; k++) {
            assertThat(seen.get("key-" + k)).as("order in which key-%d was handled", k).containsExactlyElementsOf(expected);
        }
        assertThat(overlapped).as("two messages of one key handled at the same time").isFalse();
        assertThat(byConsumer[0].get()).as("handled by the first consumer").isPositive();
        assertThat(byConsumer[1].get()).as("handled by the second consumer").isPositive();
        await().atMost(WAIT).until(() -> raw.xpending(stream("orders"), "g").getCount() == 0 && keyLists("orders").isEmpty());
    }

    @Test
    void aKilledConsumerHoldingTheHeadOfAKeyIsTakenOverAfterTheLeaseAndTheKeyKeepsItsOrder() throws Exception {
        RedisStreamsTransport redis = keyOrdered();
        ChildJvm child = closeLater(ChildJvm.builder(KeyOrderedChildMain.class)
                .args(REDIS_URI, prefix, "kill", "g", "doomed", "3").start());
        child.awaitLine("READY", WAIT);
        int count = 10;
        for (int i = 0; i < count; i++) {
            redis.publisher().publish("kill", keyed("k", "k-" + i)).join();
        }
        // The child handles k-0 (the head) and hangs; k-1 and k-2 wait in it for their turn.
        child.awaitLine("GOT k-0", WAIT);
        await().atMost(WAIT).until(() -> pendingOf("kill", "doomed") == 3);

        List<String> handled = new CopyOnWriteArrayList<>();
        Map<String, Integer> attempts = new ConcurrentHashMap<>();
        // In-flight budget 3: filled by k-3..k-5, which wait behind the child's head; the take-over of
        // the head must not need a free slot.
        redis.subscriber().subscribe(SubscriptionOptions.builder("kill", "g").consumerName("survivor")
                .concurrency(2).maxInFlight(3).leaseTimeout(Duration.ofSeconds(3)).build(), d -> {
            handled.add(d.message().payloadAsText());
            attempts.put(d.message().payloadAsText(), d.attempt());
        });
        await().atMost(WAIT).until(() -> pendingOf("kill", "survivor") == 3);
        List<String> handledBeforeKill = List.copyOf(handled);
        child.kill();   // SIGKILL while holding the head of "k"

        await().atMost(WAIT).until(() -> handled.size() >= count);
        assertThat(handledBeforeKill).as("handled while the child held the head").isEmpty();
        assertThat(handled).as("order in which k was handled after the take-over")
                .containsExactlyElementsOf(IntStream.range(0, count).mapToObj(i -> "k-" + i).toList());
        assertThat(attempts.get("k-0")).as("attempt of the head the killed child was handling").isEqualTo(2);
        assertThat(child.lines()).as("what the child handled").containsExactly("READY", "GOT k-0");
        await().atMost(WAIT).until(() -> raw.xpending(stream("kill"), "g").getCount() == 0 && keyLists("kill").isEmpty());
    }

    @Test
    void aDeadLetteredHeadReleasesItsKeyAndAFailureKeepsItsPlace() throws Exception {
        RedisStreamsTransport redis = transport(config().keyOrdering(true).maxDeliveries(2).build());
        List<String> handled = new CopyOnWriteArrayList<>();
        redis.subscriber().subscribe(SubscriptionOptions.builder("poison", "g").concurrency(4)
                .failureRedeliveryDelay(Duration.ofMillis(100)).build(), d -> {
            String text = d.message().payloadAsText();
            handled.add(text + "@" + d.attempt());
            if (text.equals("p-0") || text.equals("p-3") && d.attempt() == 1) {
                throw new IllegalStateException("cannot handle " + text);
            }
        });
        for (int i = 0; i < 6; i++) {
            redis.publisher().publish("poison", keyed("k", "p-" + i)).join();
        }

        await().atMost(WAIT).until(() -> handled.size() >= 8);
        assertThat(handled).as("p-0 fails twice and is dead-lettered, p-3 fails once; nothing overtakes either")
                .containsExactly("p-0@1", "p-0@2", "p-1@1", "p-2@1", "p-3@1", "p-3@2", "p-4@1", "p-5@1");
        var dead = raw.xrange(stream("poison.dlq"), Range.create("-", "+"));
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).getBody().get("payload")).isEqualTo("p-0");
        await().atMost(WAIT).until(() -> raw.xpending(stream("poison"), "g").getCount() == 0 && keyLists("poison").isEmpty());
    }

    @Test
    void closeIsPromptWhileEntriesWaitForAKeyHeldElsewhereAndReleasesThem() throws Exception {
        RedisStreamsTransport a = keyOrdered();
        RedisStreamsTransport b = keyOrdered();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch aHoldsTheHead = new CountDownLatch(1);
        List<String> handledByA = new CopyOnWriteArrayList<>();
        Subscription first = a.subscriber().subscribe(SubscriptionOptions.builder("close", "g").consumerName("a")
                .concurrency(1).maxInFlight(1).build(), d -> {
            if (d.message().payloadAsText().equals("k-0")) {
                aHoldsTheHead.countDown();
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
            handledByA.add(d.message().payloadAsText());
        });
        // k-0 to A alone; once A is stuck in it, B joins and gets k-1..k-3, all waiting behind A's head.
        a.publisher().publish("close", keyed("k", "k-0")).join();
        assertThat(aHoldsTheHead.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("A is handling k-0").isTrue();
        List<String> handledByB = new CopyOnWriteArrayList<>();
        Subscription second = b.subscriber().subscribe(SubscriptionOptions.builder("close", "g").consumerName("b")
                .concurrency(2).maxInFlight(3).shutdownTimeout(Duration.ofSeconds(60)).build(),
                d -> handledByB.add(d.message().payloadAsText()));
        for (int i = 1; i < 4; i++) {
            a.publisher().publish("close", keyed("k", "k-" + i)).join();
        }
        await().atMost(WAIT).until(() -> pendingOf("close", "a") == 1 && pendingOf("close", "b") == 3);

        long start = System.nanoTime();
        second.close();
        long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        // A close that waited for the entries held behind A would take the 60 s shutdown timeout: the
        // bound only tells the two apart, it is not a speed target.
        assertThat(closeMillis).as("ms to close a subscription whose entries wait for another consumer").isLessThan(20_000);
        assertThat(handledByB).isEmpty();

        release.countDown();
        await().atMost(WAIT).until(() -> handledByA.size() >= 4);
        assertThat(handledByA).as("the released entries are taken over at once, in order")
                .containsExactly("k-0", "k-1", "k-2", "k-3");
        await().atMost(WAIT).until(() -> raw.xpending(stream("close"), "g").getCount() == 0 && keyLists("close").isEmpty());

        first.close();
        assertThat(first.isRunning()).isFalse();
    }

    /**
     * A keyed message whose handler failed waits for its failure redelivery delay in place; a graceful
     * close in the meantime hands it back to the group, but not earlier than that delay: the next
     * subscriber gets it once the delay has passed, and the key's next message only after it.
     */
    @Test
    void aFailedKeyedMessageHandedBackByCloseComesBackOnlyAfterItsRedeliveryDelay() throws Exception {
        RedisStreamsTransport redis = keyOrdered();
        Duration redeliveryDelay = Duration.ofSeconds(3);
        SubscriptionOptions options = SubscriptionOptions.builder("restart", "g").concurrency(2)
                .failureRedeliveryDelay(redeliveryDelay).build();
        Map<String, Long> failedAt = new ConcurrentHashMap<>();
        Subscription first = redis.subscriber().subscribe(options, d -> {
            failedAt.putIfAbsent(d.message().payloadAsText(), System.nanoTime());
            throw new IllegalStateException("first consumer fails " + d.message().payloadAsText());
        });
        redis.publisher().publish("restart", keyed("k", "k-0")).join();
        await().atMost(WAIT).until(() -> failedAt.containsKey("k-0"));
        redis.publisher().publish("restart", keyed("k", "k-1")).join();
        first.close();

        List<String> handled = new CopyOnWriteArrayList<>();
        Map<String, Long> handledAt = new ConcurrentHashMap<>();
        keyOrdered().subscriber().subscribe(options, d -> {
            handledAt.putIfAbsent(d.message().payloadAsText(), System.nanoTime());
            handled.add(d.message().payloadAsText() + "@" + d.attempt());
        });
        await().atMost(WAIT).until(() -> handled.size() >= 2);
        long afterMillis = TimeUnit.NANOSECONDS.toMillis(handledAt.get("k-0") - failedAt.get("k-0"));
        System.out.printf("failed keyed message redelivered %d ms after its failure (delay %s)%n", afterMillis,
                redeliveryDelay);
        assertThat(afterMillis).as("ms from the failure of k-0 to its redelivery after a graceful restart")
                .isGreaterThanOrEqualTo(redeliveryDelay.toMillis() - 50);
        // k-1's attempt depends on whether the first consumer's read of it completed before close (a read
        // whose reply close cut off counts as a delivery), so only its place is checked.
        assertThat(handled).as("k-0 again first, counted as its second attempt, then k-1").hasSize(2)
                .first().isEqualTo("k-0@2");
        assertThat(handled.get(1)).startsWith("k-1@");
    }

    private long pendingOf(String topic, String consumer) {
        return raw.xpending(stream(topic), Consumer.from("g", consumer), Range.create("-", "+"), Limit.from(100)).size();
    }
}
