package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Delivery;
import io.courier.KeyOrderedSubscriber;
import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.rabbitmq.internal.PartitionedSubscription;
import io.courier.testkit.fault.TcpProxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Key-ordered mode ({@link RabbitMqConfig.Builder#keyOrdering(int)}) on the real broker, beyond the
 * conformance suite: two subscriptions of one group in two transports (as two processes would be),
 * partitions handed over while messages flow, a subscription killed mid-stream (classic and quorum
 * queues), and retries that must go back to their key's partition queue.
 */
class KeyOrderedDeliveryTest {

    private static final int PARTITIONS = 4;
    private static final int KEYS = 8;
    private static final int PER_KEY = 150;

    private RabbitBroker broker;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final CountDownLatch releaseFrozenHandlers = new CountDownLatch(1);

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
    }

    @AfterEach
    void tearDown() throws Exception {
        releaseFrozenHandlers.countDown();
        Collections.reverse(toClose);
        for (AutoCloseable c : toClose) {
            c.close();
        }
        broker.close();
    }

    private RabbitMqTransport transport(int port) {
        return transport(port, QueueType.CLASSIC);
    }

    private RabbitMqTransport transport(int port, QueueType queueType) {
        RabbitMqTransport t = RabbitMqTransport.connect(RabbitBroker.config().port(port).keyOrdering(PARTITIONS)
                .queueType(queueType).build());
        toClose.add(t);
        return t;
    }

    /** A unique topic; its exchange, partition queues, members queue and release queues are deleted afterwards. */
    private String topic(String base, String group) {
        String topic = broker.topic(base);
        for (int p = 0; p < PARTITIONS; p++) {
            broker.track(RabbitMqConfig.partitionQueueName(topic, group, p));
            broker.track("courier.delay.release." + topic + ".p" + p);
        }
        broker.track(RabbitMqConfig.groupQueueName(topic, group) + ".members");
        return topic;
    }

    /** Queues named {@code prefix...} with messages ready or unacknowledged, from one {@code rabbitmqctl} call. */
    private static List<String> readyAndUnacked(String prefix) {
        List<String> busy = new ArrayList<>();
        for (String line : RabbitBroker.rabbitmqctl(Duration.ofSeconds(30), "list_queues", "-q", "--no-table-headers", "name",
                "messages_ready", "messages_unacknowledged").split("\n")) {
            String[] parts = line.trim().split("\\s+");
            if (parts.length == 3 && parts[0].startsWith(prefix) && !(parts[1].equals("0") && parts[2].equals("0"))) {
                busy.add(line.trim());
            }
        }
        return busy;
    }

    private static List<Message> keyedMessages() {
        List<Message> all = new ArrayList<>();
        for (int i = 0; i < PER_KEY; i++) {
            for (int k = 0; k < KEYS; k++) {
                all.add(Message.builder().key("key-" + k).header("seq", Integer.toString(i))
                        .payload(("key-" + k + " #" + i).getBytes(StandardCharsets.UTF_8)).build());
            }
        }
        return all;
    }

    private static void publishAll(RabbitMqTransport t, String topic, List<Message> messages) {
        for (int from = 0; from < messages.size(); from += 200) {
            t.publisher().publishAll(topic, messages.subList(from, Math.min(messages.size(), from + 200))).join();
        }
    }

    /** What the handlers of both subscriptions saw, per key, in the order they started. */
    private static final class Recorder {
        final Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        final AtomicBoolean overlapped = new AtomicBoolean();
        final Map<String, Set<Integer>> partitionsBySubscriber = new ConcurrentHashMap<>();
        final Map<String, AtomicInteger> countBySubscriber = new ConcurrentHashMap<>();

        /** Records the start of a handler in {@code subscriber}; call {@link #finish} after the work. */
        void start(String subscriber, Delivery d) {
            String key = d.message().key().orElseThrow();
            if (running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                overlapped.set(true);
            }
            seen.computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
                    .add(Integer.parseInt(d.message().header("seq").orElseThrow()));
            partitionsBySubscriber.computeIfAbsent(subscriber, s -> ConcurrentHashMap.newKeySet())
                    .add(RabbitMqConfig.keyPartition(key, PARTITIONS));
            countBySubscriber.computeIfAbsent(subscriber, s -> new AtomicInteger()).incrementAndGet();
        }

        void finish(Delivery d) {
            running.get(d.message().key().orElseThrow()).decrementAndGet();
        }

        int count(String subscriber) {
            return countBySubscriber.getOrDefault(subscriber, new AtomicInteger()).get();
        }

        boolean allSeen() {
            return IntStream.range(0, KEYS).allMatch(k -> {
                List<Integer> l = seen.get("key-" + k);
                if (l == null) {
                    return false;
                }
                synchronized (l) {
                    return new HashSet<>(l).size() == PER_KEY;
                }
            });
        }
    }

    @Test
    void subscriberIsKeyOrderedOnlyWhenConfigured() {
        assertThat(transport(RabbitBroker.PORT).subscriber()).isInstanceOf(KeyOrderedSubscriber.class);
        RabbitMqTransport plain = RabbitMqTransport.connect(RabbitBroker.config().build());
        toClose.add(plain);
        assertThat(plain.subscriber()).isNotInstanceOf(KeyOrderedSubscriber.class);
    }

    /**
     * A second subscription joins while the first handles a stream: the first hands half the partitions
     * over, then closes mid-stream and the second takes the rest. Every key is handled exactly once per
     * message, in publish order, never two messages of one key at once.
     */
    @Test
    void partitionsHandedOverWhileMessagesFlowKeepEveryKeyInOrderOneAtATime() {
        String group = "g";
        String topic = topic("ko-handover", group);
        RabbitMqTransport a = transport(RabbitBroker.PORT);
        RabbitMqTransport b = transport(RabbitBroker.PORT);
        Recorder r = new Recorder();
        SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(4).build();
        Subscription subA = a.subscriber().subscribe(options, d -> {
            r.start("a", d);
            Thread.sleep(5);
            r.finish(d);
        });
        toClose.add(subA);
        publishAll(a, topic, keyedMessages());
        await("the first subscription handles messages").atMost(Duration.ofSeconds(30)).until(() -> r.count("a") >= 100);

        Subscription subB = b.subscriber().subscribe(options, d -> {
            r.start("b", d);
            Thread.sleep(5);
            r.finish(d);
        });
        toClose.add(subB);
        await("the second subscription is handed half the partitions")
                .atMost(Duration.ofSeconds(30)).until(() -> r.count("b") >= 50);
        assertThat(((PartitionedSubscription) subA).activePartitions()).as("partitions the first subscription kept")
                .hasSizeLessThanOrEqualTo(PARTITIONS / 2);
        int handledByA = r.count("a");
        assertThat(handledByA).as("messages left when the first subscription closes").isLessThan(KEYS * PER_KEY);

        subA.close();
        await("every message handled").atMost(Duration.ofSeconds(60)).until(r::allSeen);

        List<Integer> expected = IntStream.range(0, PER_KEY).boxed().toList();
        for (int k = 0; k < KEYS; k++) {
            assertThat(r.seen.get("key-" + k)).as("order in which key-%d was handled", k).containsExactlyElementsOf(expected);
        }
        assertThat(r.overlapped).as("two messages of one key handled at the same time").isFalse();
        assertThat(r.partitionsBySubscriber.get("b")).as("partitions the second subscription handled")
                .containsExactlyInAnyOrder(IntStream.range(0, PARTITIONS).boxed().toArray(Integer[]::new));
        await("queues empty, nothing unacknowledged").atMost(Duration.ofSeconds(30))
                .untilAsserted(() -> assertThat(readyAndUnacked(topic + "." + group + ".p"))
                        .as("partition queues with messages ready or unacknowledged").isEmpty());
    }

    /**
     * The connection of the active subscription is cut mid-stream (its handlers freeze, like a killed
     * process): the broker returns its unacknowledged messages to the head of their queues and makes
     * the standby subscription active. Nothing is lost and every key stays in order; only a message
     * whose acknowledgement the cut swallowed is handled again, right after its first handling.
     */
    @ParameterizedTest
    @EnumSource(QueueType.class)
    void standbyTakesOverInOrderWhenTheActiveSubscriptionIsKilled(QueueType queueType) throws Exception {
        String group = "g";
        String topic = topic("ko-kill", group);
        TcpProxy proxy = TcpProxy.start(RabbitBroker.HOST, RabbitBroker.PORT);
        toClose.add(proxy);
        RabbitMqTransport a = transport(proxy.port(), queueType);
        RabbitMqTransport b = transport(RabbitBroker.PORT, queueType);
        Recorder r = new Recorder();
        Object killLock = new Object();
        AtomicBoolean killed = new AtomicBoolean();
        SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(4)
                .shutdownTimeout(Duration.ofMillis(200)).build();
        Subscription subA = a.subscriber().subscribe(options, d -> {
            synchronized (killLock) {
                if (!killed.get()) {
                    r.start("a", d);
                }
            }
            if (killed.get()) {
                releaseFrozenHandlers.await(60, TimeUnit.SECONDS);   // a dead process does nothing more
                return;
            }
            Thread.sleep(5);
            r.finish(d);
        });
        toClose.add(subA);
        Subscription subB = b.subscriber().subscribe(options, d -> {
            synchronized (killLock) {
                r.start(killed.get() ? "b-after-kill" : "b", d);
            }
            Thread.sleep(5);
            r.finish(d);
        });
        toClose.add(subB);

        publishAll(b, topic, keyedMessages());
        await("both subscriptions handle messages").atMost(Duration.ofSeconds(30))
                .until(() -> r.count("a") >= 100 && r.count("b") >= 20 && !((PartitionedSubscription) subA).activePartitions().isEmpty());
        List<Integer> activeInA = ((PartitionedSubscription) subA).activePartitions();
        synchronized (killLock) {
            killed.set(true);
        }
        proxy.cut();

        await("every message handled").atMost(Duration.ofSeconds(60)).until(r::allSeen);
        assertThat(r.partitionsBySubscriber.get("b-after-kill")).as("partitions the standby handled after the kill")
                .containsAll(activeInA);
        for (int k = 0; k < KEYS; k++) {
            List<Integer> seen = new ArrayList<>(r.seen.get("key-" + k));
            for (int i = 1; i < seen.size(); i++) {
                assertThat(seen.get(i)).as("key-%d handled %s: position %d goes backwards", k, seen, i)
                        .isGreaterThanOrEqualTo(seen.get(i - 1));
            }
            assertThat(new HashSet<>(seen)).as("messages of key-%d handled", k).hasSize(PER_KEY);
        }
    }

    /**
     * A keyed message is published into its key's partition queue, and a retry copy goes back into the
     * same partition queue of the group (not round-robin, not to other groups).
     */
    @Test
    void keyedMessagesAndTheirRetriesGoToTheKeysPartitionQueue() {
        String group = "g";
        String topic = topic("ko-retry", group);
        RabbitMqTransport t = transport(RabbitBroker.PORT);
        t.declareGroup(topic, group);
        Map<Integer, Long> expected = new HashMap<>();
        List<Message> messages = new ArrayList<>();
        for (int k = 0; k < 12; k++) {
            String key = "order-" + k;
            messages.add(Message.builder().key(key).payload(key.getBytes(StandardCharsets.UTF_8)).build());
            expected.merge(RabbitMqConfig.keyPartition(key, PARTITIONS), 1L, Long::sum);
        }
        assertThat(expected).as("the keys spread over several partitions").hasSizeGreaterThan(1);
        t.publisher().publishAll(topic, messages).join();
        for (int p = 0; p < PARTITIONS; p++) {
            assertThat(broker.messageCount(RabbitMqConfig.partitionQueueName(topic, group, p)))
                    .as("messages published into partition queue %d", p).isEqualTo(expected.getOrDefault(p, 0L));
        }

        Set<String> retried = ConcurrentHashMap.newKeySet();
        Subscription s = t.subscriber().subscribe(SubscriptionOptions.builder(topic, group).concurrency(4).build(), d -> {
            d.retryAfter(Duration.ofSeconds(1), Map.of());
            retried.add(d.message().id());
        });
        await("every message asked for a retry").atMost(Duration.ofSeconds(30)).until(() -> retried.size() == messages.size());
        s.close();
        await("every retry copy is back in its key's partition queue").atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            for (int p = 0; p < PARTITIONS; p++) {
                assertThat(broker.messageCount(RabbitMqConfig.partitionQueueName(topic, group, p)))
                        .as("retry copies in partition queue %d", p).isEqualTo(expected.getOrDefault(p, 0L));
            }
        });

        Map<String, Integer> attempts = new ConcurrentHashMap<>();
        toClose.add(t.subscriber().subscribe(SubscriptionOptions.of(topic, group), d -> attempts.put(d.message().key().orElseThrow(), d.attempt())));
        await("the copies are delivered").atMost(Duration.ofSeconds(30)).until(() -> attempts.size() == messages.size());
        assertThat(attempts.values()).as("attempt of the retry copies").containsOnly(2);
    }
}
