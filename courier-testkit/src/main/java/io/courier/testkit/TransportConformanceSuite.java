package io.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.courier.BatchPublishException;
import io.courier.DecodingException;
import io.courier.DelayedPublisher;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.IdempotencyStore;
import io.courier.KeyOrderedSubscriber;
import io.courier.Message;
import io.courier.MessageOrdering;
import io.courier.MessageTooLargeException;
import io.courier.Middleware;
import io.courier.PublishResult;
import io.courier.Router;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportOption;
import io.courier.memory.InMemoryIdempotencyStore;
import io.courier.middleware.DeadLetterMiddleware;
import io.courier.middleware.IdempotencyMiddleware;
import io.courier.middleware.RetryMiddleware;
import io.courier.testkit.fault.ChildJvm;
import io.courier.testkit.fault.KillableConsumerMain;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every Courier transport must meet, as a JUnit 5 suite. A transport's test extends this
 * class, says how to create the transport and what it declares it can do, and inherits every test:
 *
 * <pre>{@code
 * class SqliteTransportConformanceTest extends TransportConformanceSuite {
 *     @TempDir static Path dir;
 *
 *     @Override
 *     protected Transport createTransport() {
 *         return SqlTransport.sqlite(dir.resolve("courier.db"));   // same file on every call
 *     }
 *
 *     @Override
 *     protected TransportFeatures features() {
 *         return TransportFeatures.builder().persistent(true).survivesRestart(true)
 *                 .crossProcess(true).delayedDelivery(true).maxPayloadBytes(1 << 20).build();
 *     }
 *
 *     @Override
 *     protected Class<? extends TransportFactory> childTransportFactory() {
 *         return SqliteChildFactory.class;
 *     }
 *
 *     @Override
 *     protected Map<String, String> childTransportConfig() {
 *         return Map.of("file", dir.resolve("courier.db").toString());
 *     }
 * }
 * }</pre>
 *
 * <p><b>Rules the suite keeps.</b> Every test uses topic and group names with a random suffix, so
 * tests and reruns against a shared broker never see each other's messages. A test whose capability
 * the transport does not declare is skipped with a message naming that capability, never silently;
 * declarations that can be checked against the transport are checked by
 * {@link #declaredFeaturesMatchTheTransport()}. Every delivery test ends with a
 * {@link DeliveryChecker}: nothing lost, nothing unexpected, duplicates printed. Waiting is done by
 * polling with a deadline ({@link TransportFeatures#awaitTimeout()}), never by sleeping for a result;
 * the only fixed waits are the length of an injected fault and the work a handler pretends to do.
 *
 * <p><b>Lifecycle.</b> Before each test {@link #createTransport()} is called once; after it every
 * subscription, router and child process the test started is closed, then the transport.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
public abstract class TransportConformanceSuite {

    /** How long after a handler failure a message comes back, in tests that make handlers fail. */
    protected static final Duration FAILURE_REDELIVERY_DELAY = Duration.ofMillis(300);
    /**
     * How much earlier than its due time a delayed message, or a failed one, may be seen: clock
     * granularity between the test and a broker, nothing more.
     */
    protected static final Duration EARLY_TOLERANCE = Duration.ofMillis(50);
    /** Shutdown timeout of the suite's subscriptions. */
    protected static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);

    private final Deque<AutoCloseable> cleanup = new ArrayDeque<>();
    private final List<CountDownLatch> latches = Collections.synchronizedList(new ArrayList<>());
    private TransportFeatures features;
    private Transport transport;
    private String testName = "test";

    // ---------------------------------------------------------------------------------------------
    // Hooks
    // ---------------------------------------------------------------------------------------------

    /**
     * A new transport instance. Called once before every test and again in the restart test after the
     * first instance was closed. When {@link TransportFeatures#survivesRestart()} or
     * {@link TransportFeatures#crossProcess()} is declared, every call must return a new instance over
     * the same store (the same file, database or broker); otherwise each call may return an
     * independent one.
     */
    protected abstract Transport createTransport() throws Exception;

    /** What the transport declares it can do; see {@link TransportFeatures}. */
    protected abstract TransportFeatures features();

    /**
     * Restarts the broker or database server behind the transport. Called by the restart test between
     * closing one transport instance and creating the next, when
     * {@link TransportFeatures#survivesRestart()} is declared. The default does nothing: right for an
     * embedded store, where closing the transport is the restart. Must return once the broker accepts
     * connections again.
     */
    protected void restartBroker() throws Exception {
    }

    /**
     * Breaks every connection between the transport and its broker and keeps new ones from being
     * made, usually with {@link io.courier.testkit.fault.TcpProxy#cut()}. Override together with
     * {@link #healConnections()} and declare {@link TransportFeatures#connectionFaults()}.
     *
     * @throws UnsupportedOperationException by default
     */
    protected void cutConnections() throws Exception {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not override cutConnections()");
    }

    /**
     * Lets connections through again after {@link #cutConnections()}.
     *
     * @throws UnsupportedOperationException by default
     */
    protected void healConnections() throws Exception {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not override healConnections()");
    }

    /**
     * The factory a child JVM uses to build a transport over the same store, for the SIGKILL test;
     * required when {@link TransportFeatures#crossProcess()} is declared. A public class with a public
     * no-argument constructor, in the transport's test code; the child runs with this JVM's classpath.
     * Default: none.
     */
    protected Class<? extends TransportFactory> childTransportFactory() {
        return null;
    }

    /**
     * The configuration handed to {@link #childTransportFactory()}'s {@code create} in the child JVM:
     * whatever it needs to reach the store this test's transports use. Passed as system properties
     * prefixed with {@value KillableConsumerMain#CONFIG_PREFIX}. Default: empty.
     */
    protected Map<String, String> childTransportConfig() {
        return Map.of();
    }

    /**
     * The idempotency store the idempotency test uses; a transport with its own store (SQL, Redis)
     * returns it here. Default: a new {@link InMemoryIdempotencyStore}.
     */
    protected IdempotencyStore idempotencyStore() {
        return new InMemoryIdempotencyStore();
    }

    // ---------------------------------------------------------------------------------------------
    // Lifecycle and helpers for subclasses' own tests
    // ---------------------------------------------------------------------------------------------

    @BeforeEach
    final void openTransport(TestInfo info) throws Exception {
        features = Objects.requireNonNull(features(), "features() returned null");
        testName = info.getTestMethod().map(Method::getName).orElse("test");
        transport = Objects.requireNonNull(createTransport(), "createTransport() returned null");
    }

    @AfterEach
    final void closeEverything() throws Exception {
        latches.forEach(l -> {
            while (l.getCount() > 0) {
                l.countDown();   // let every handler a test blocked go, so closing never waits for it
            }
        });
        Exception first = null;
        while (!cleanup.isEmpty()) {
            try {
                cleanup.pop().close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        try {
            if (transport != null) {
                transport.close();
            }
        } catch (Exception e) {
            if (first == null) {
                first = e;
            } else {
                first.addSuppressed(e);
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The transport of the current test. */
    protected final Transport transport() {
        return transport;
    }

    /** The features declared by {@link #features()}, as read before the current test. */
    protected final TransportFeatures declared() {
        return features;
    }

    /** {@code base} plus a random suffix: a topic or group name no other test or rerun uses. */
    protected final String uniqueName(String base) {
        return "ck-" + base + "-" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    /**
     * Subscription options with the suite's defaults: a failure redelivery delay of
     * {@link #FAILURE_REDELIVERY_DELAY} and a shutdown timeout of {@link #SHUTDOWN_TIMEOUT}. The lease
     * stays at its default; tests that wait for a lease to expire set
     * {@link TransportFeatures#leaseTimeout()}.
     */
    protected final SubscriptionOptions.Builder options(String topic, String group) {
        return SubscriptionOptions.builder(topic, group)
                .failureRedeliveryDelay(FAILURE_REDELIVERY_DELAY)
                .shutdownTimeout(SHUTDOWN_TIMEOUT);
    }

    /** Subscribes on the current transport; the subscription is closed after the test. */
    protected final Subscription subscribe(SubscriptionOptions options, Handler handler) {
        Subscription s = transport.subscriber().subscribe(options, handler);
        cleanup.push(s);
        return s;
    }

    /** Builds a router over the current transport, configured by {@code config}; closed after the test. */
    protected final Router router(Consumer<Router.Builder> config) {
        Router.Builder b = Router.builder(transport);
        config.accept(b);
        Router r = b.build();
        cleanup.push(r);
        return r;
    }

    /** Registers something to close after the test, before the transport (last registered, first closed). */
    protected final <T extends AutoCloseable> T closeAfterTest(T resource) {
        cleanup.push(resource);
        return resource;
    }

    /** A latch that is released after the test even if the test never releases it. */
    protected final CountDownLatch latch(int count) {
        CountDownLatch l = new CountDownLatch(count);
        latches.add(l);
        return l;
    }

    /** Awaitility with the declared await timeout and a short poll interval. */
    protected final ConditionFactory await(String what) {
        return Awaitility.await(testName + ": " + what)
                .atMost(features.awaitTimeout())
                .pollDelay(Duration.ZERO)
                .pollInterval(Duration.ofMillis(20));
    }

    /** Waits until {@code checker} has received every message it was told was sent. */
    protected final void awaitAllReceived(DeliveryChecker checker) {
        await("every message sent to " + checker.name() + " received").untilAsserted(checker::assertNoneLost);
    }

    /** {@code count} messages with readable unique ids, text payloads and a sequence header. */
    protected final List<Message> messages(String prefix, int count) {
        String run = UUID.randomUUID().toString().substring(0, 8);
        return IntStream.range(0, count)
                .mapToObj(i -> Message.builder()
                        .id(prefix + "-" + i + "-" + run)
                        .header("test-seq", Integer.toString(i))
                        .payload(("payload " + prefix + " " + i).getBytes(StandardCharsets.UTF_8))
                        .build())
                .toList();
    }

    /** Publishes one message and waits until it is durable. */
    protected final PublishResult publish(String topic, Message message) throws Exception {
        return get(transport.publisher().publish(topic, message));
    }

    /** Publishes messages in batches of at most 500 and records each in {@code checker} once durable. */
    protected final void publishAll(String topic, List<Message> messages, DeliveryChecker checker) throws Exception {
        for (int from = 0; from < messages.size(); from += 500) {
            List<Message> batch = messages.subList(from, Math.min(messages.size(), from + 500));
            get(transport.publisher().publishAll(topic, batch));
            checker.sentAll(batch);
        }
    }

    /** Waits for {@code future} up to the await timeout, unwrapping its failure. */
    protected final <T> T get(CompletableFuture<T> future) throws Exception {
        try {
            return future.get(features.awaitTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    /**
     * Simulated handler work. This is the only sleep in the suite: the time a handler takes, never a
     * wait for a result.
     */
    protected static void work(Duration duration) throws InterruptedException {
        Thread.sleep(duration.toMillis());
    }

    private static void block(CountDownLatch latch, Duration atMost, String what) throws InterruptedException {
        if (!latch.await(atMost.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("test handler blocked longer than " + atMost + " waiting for " + what);
        }
    }

    private String skipped(String capability, boolean declaredValue) {
        return getClass().getSimpleName() + " declares TransportFeatures." + capability + " = " + declaredValue
                + ": skipped because the transport lacks this capability";
    }

    private static Throwable publishFailure(Supplier<CompletableFuture<?>> publish, Duration timeout) throws Exception {
        CompletableFuture<?> f;
        try {
            f = publish.get();
        } catch (RuntimeException e) {
            return e;   // validation without I/O may throw directly
        }
        try {
            Object result = f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            throw new AssertionError("publish was expected to fail but completed with " + result);
        } catch (ExecutionException e) {
            return e.getCause() instanceof CompletionException c && c.getCause() != null ? c.getCause() : e.getCause();
        }
    }

    private static boolean overrides(Class<?> type, String method) {
        for (Class<?> c = type; c != null && c != TransportConformanceSuite.class; c = c.getSuperclass()) {
            for (Method m : c.getDeclaredMethods()) {
                if (m.getName().equals(method) && m.getParameterCount() == 0) {
                    return true;
                }
            }
        }
        return false;
    }

    // ---------------------------------------------------------------------------------------------
    // Declarations
    // ---------------------------------------------------------------------------------------------

    /**
     * The declared features agree with the transport: capability interfaces, hooks, and the
     * {@link Transport} contract that publisher and subscriber are the same instance on every call.
     */
    @Test
    void declaredFeaturesMatchTheTransport() {
        assertThat(transport.name()).as("Transport.name()").isNotBlank();
        assertThat(transport.publisher()).as("Transport.publisher() must return the same instance on every call")
                .isSameAs(transport.publisher());
        assertThat(transport.subscriber()).as("Transport.subscriber() must return the same instance on every call")
                .isSameAs(transport.subscriber());
        assertThat(transport.publisher() instanceof DelayedPublisher)
                .as("TransportFeatures.delayedDelivery is declared %s but the publisher (%s) %s DelayedPublisher",
                        features.delayedDelivery(), transport.publisher().getClass().getName(),
                        transport.publisher() instanceof DelayedPublisher ? "implements" : "does not implement")
                .isEqualTo(features.delayedDelivery());
        assertThat(transport.subscriber() instanceof KeyOrderedSubscriber)
                .as("TransportFeatures.keyOrdering is declared %s but the subscriber (%s) %s KeyOrderedSubscriber",
                        features.keyOrdering(), transport.subscriber().getClass().getName(),
                        transport.subscriber() instanceof KeyOrderedSubscriber ? "implements" : "does not implement")
                .isEqualTo(features.keyOrdering());
        boolean cutHooks = overrides(getClass(), "cutConnections") && overrides(getClass(), "healConnections");
        assertThat(cutHooks)
                .as("TransportFeatures.connectionFaults is declared %s but cutConnections()/healConnections() %s overridden",
                        features.connectionFaults(), cutHooks ? "are" : "are not both")
                .isEqualTo(features.connectionFaults());
        if (overrides(getClass(), "restartBroker")) {
            assertThat(features.survivesRestart())
                    .as("restartBroker() is overridden but TransportFeatures.survivesRestart is false, so it would never run")
                    .isTrue();
        }
        Class<? extends TransportFactory> factory = childTransportFactory();
        if (features.crossProcess()) {
            assertThat(factory).as("TransportFeatures.crossProcess is declared but childTransportFactory() returns null")
                    .isNotNull();
            assertThat(Modifier.isPublic(factory.getModifiers()) && !Modifier.isAbstract(factory.getModifiers()))
                    .as("childTransportFactory() %s must be a public concrete class", factory.getName()).isTrue();
            try {
                assertThat(Modifier.isPublic(factory.getConstructor().getModifiers())).isTrue();
            } catch (NoSuchMethodException e) {
                fail("childTransportFactory() " + factory.getName() + " needs a public no-argument constructor");
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Basic delivery
    // ---------------------------------------------------------------------------------------------

    /** Id, key, headers (non-ASCII included), binary payload, timestamp and delivery metadata arrive intact. */
    @Test
    void roundTripKeepsPayloadHeadersAndKey() throws Exception {
        String topic = uniqueName("roundtrip");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        record Received(Message message, String topic, String group, int attempt) {
        }
        Map<String, Received> received = new ConcurrentHashMap<>();
        subscribe(options(topic, group).build(), d -> {
            received.put(d.message().id(), new Received(d.message(), d.topic(), d.group(), d.attempt()));
            checker.received(d);
        });

        byte[] binary = new byte[256];
        for (int i = 0; i < binary.length; i++) {
            binary[i] = (byte) i;
        }
        Message full = Message.builder()
                .id("full-" + UUID.randomUUID())
                .key("customer-42")
                .header(Headers.CONTENT_TYPE, "application/octet-stream")
                .header("x-trace", "abc-123")
                .header("x-text", "grüße, 你好, ✓")
                .header("x-empty", "")
                .payload(binary)
                .build();
        Message bare = Message.builder().id("bare-" + UUID.randomUUID()).build();   // no key, no headers, empty payload

        for (Message m : List.of(full, bare)) {
            PublishResult result = publish(topic, m);
            assertThat(result.messageId()).as("PublishResult.messageId").isEqualTo(m.id());
            assertThat(result.topic()).as("PublishResult.topic").isEqualTo(topic);
            checker.sent(m);
        }
        awaitAllReceived(checker);

        for (Message sent : List.of(full, bare)) {
            Received r = received.get(sent.id());
            assertThat(r.topic()).isEqualTo(topic);
            assertThat(r.group()).isEqualTo(group);
            assertThat(r.attempt()).as("first delivery is attempt 1").isEqualTo(1);
            assertThat(r.message().id()).isEqualTo(sent.id());
            assertThat(r.message().key()).as("key of %s", sent.id()).isEqualTo(sent.key());
            assertThat(r.message().payload()).as("payload of %s", sent.id()).isEqualTo(sent.payload());
            assertThat(r.message().headers()).as("headers of %s", sent.id()).containsAllEntriesOf(sent.headers());
            assertThat(r.message().timestamp().truncatedTo(ChronoUnit.MILLIS))
                    .as("timestamp of %s (millisecond precision)", sent.id())
                    .isEqualTo(sent.timestamp().truncatedTo(ChronoUnit.MILLIS));
        }
        checker.assertComplete();
    }

    /** A batch publish reports one result per message in order and delivers every one; an empty batch is fine. */
    @Test
    void batchPublishDeliversAll() throws Exception {
        String topic = uniqueName("batch");
        DeliveryChecker checker = new DeliveryChecker(topic);
        subscribe(options(topic, uniqueName("g")).build(), checker::received);

        List<Message> batch = messages("batch", 200);
        List<PublishResult> results = get(transport.publisher().publishAll(topic, batch));
        checker.sentAll(batch);
        assertThat(results).extracting(PublishResult::messageId)
                .as("one result per message, in the order given")
                .containsExactlyElementsOf(batch.stream().map(Message::id).toList());
        assertThat(results).allSatisfy(r -> assertThat(r.topic()).isEqualTo(topic));
        assertThat(get(transport.publisher().publishAll(topic, List.of()))).as("empty batch").isEmpty();

        awaitAllReceived(checker);
        checker.assertComplete();
    }

    /**
     * 5,000 messages, published from several threads at once, consumed by three subscriptions of one
     * group with four handlers each: none is lost.
     */
    @Test
    void fiveThousandMessagesAcrossConcurrentConsumersNoneLost() throws Exception {
        String topic = uniqueName("volume");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        for (int i = 0; i < 3; i++) {
            subscribe(options(topic, group).concurrency(4).build(), checker::received);
        }

        List<Message> all = messages("volume", 5000);
        ExecutorService publishers = closeAfterTest(new AutoCloseableExecutor(4)).executor;
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            List<Message> share = all.subList(t * 1250, (t + 1) * 1250);
            boolean oneByOne = t == 0;   // one thread publishes singly, the others in batches
            done.add(publishers.submit(() -> {
                if (oneByOne) {
                    List<CompletableFuture<PublishResult>> futures = share.stream()
                            .map(m -> transport.publisher().publish(topic, m)).toList();
                    for (int i = 0; i < futures.size(); i++) {
                        get(futures.get(i));
                        checker.sent(share.get(i));
                    }
                } else {
                    for (int from = 0; from < share.size(); from += 250) {
                        List<Message> batch = share.subList(from, from + 250);
                        get(transport.publisher().publishAll(topic, batch));
                        checker.sentAll(batch);
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : done) {
            f.get(features.awaitTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }
        assertThat(checker.sentCount()).isEqualTo(5000);
        awaitAllReceived(checker);
        checker.assertComplete();
    }

    // ---------------------------------------------------------------------------------------------
    // Consumer groups
    // ---------------------------------------------------------------------------------------------

    /** Three groups on one topic each receive every message. */
    @Test
    void everyGroupReceivesEveryMessage() throws Exception {
        assumeTrue(features.consumerGroups(), skipped("consumerGroups", false));
        String topic = uniqueName("fanout");
        List<DeliveryChecker> checkers = new ArrayList<>();
        for (int g = 0; g < 3; g++) {
            DeliveryChecker checker = new DeliveryChecker(topic + " group " + g);
            checkers.add(checker);
            subscribe(options(topic, uniqueName("g" + g)).build(), checker::received);
        }
        List<Message> batch = messages("fanout", 300);
        get(transport.publisher().publishAll(topic, batch));
        for (DeliveryChecker c : checkers) {
            c.sentAll(batch);
        }
        for (DeliveryChecker c : checkers) {
            awaitAllReceived(c);
        }
        for (DeliveryChecker c : checkers) {
            c.assertComplete();
        }
    }

    /** Two subscriptions in one group split the messages: each message goes to exactly one, both get some. */
    @Test
    void consumersInOneGroupCompete() throws Exception {
        assumeTrue(features.consumerGroups(), skipped("consumerGroups", false));
        String topic = uniqueName("compete");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Set<String> first = ConcurrentHashMap.newKeySet();
        Set<String> second = ConcurrentHashMap.newKeySet();
        subscribe(options(topic, group).concurrency(2).build(), d -> {
            work(Duration.ofMillis(5));
            first.add(d.message().id());
            checker.received(d);
        });
        subscribe(options(topic, group).concurrency(2).build(), d -> {
            work(Duration.ofMillis(5));
            second.add(d.message().id());
            checker.received(d);
        });

        List<Message> batch = IntStream.range(0, 300)   // distinct keys so partitioned transports spread them
                .mapToObj(i -> Message.builder().key("key-" + i).payload(("m" + i).getBytes(StandardCharsets.UTF_8)).build())
                .toList();
        publishAll(topic, batch, checker);
        awaitAllReceived(checker);

        Set<String> both = new HashSet<>(first);
        both.retainAll(second);
        assertThat(both).as("messages handled by both consumers of one group").isEmpty();
        assertThat(first).as("messages handled by the first consumer").isNotEmpty();
        assertThat(second).as("messages handled by the second consumer").isNotEmpty();
        checker.assertComplete();
        checker.assertNoDuplicates();
    }

    // ---------------------------------------------------------------------------------------------
    // Redelivery
    // ---------------------------------------------------------------------------------------------

    /**
     * A handler that throws (an exception or an {@link Error}) gets the message again, as attempt 2,
     * no sooner than the failure redelivery delay: no hot loop, no dead consumer.
     */
    @Test
    void redeliversAfterHandlerFailure() throws Exception {
        String topic = uniqueName("failure");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Map<String, Long> failedAt = new ConcurrentHashMap<>();
        Map<String, Long> retriedAt = new ConcurrentHashMap<>();
        Map<String, Integer> successAttempt = new ConcurrentHashMap<>();
        subscribe(options(topic, uniqueName("g")).concurrency(2).build(), d -> {
            String id = d.message().id();
            if (!failedAt.containsKey(id)) {
                failedAt.put(id, System.nanoTime());
                int seq = Integer.parseInt(d.message().header("test-seq").orElseThrow());
                if (seq % 2 == 0) {
                    throw new IllegalStateException("simulated failure of " + id);
                }
                throw new Error("simulated error of " + id);   // an Error must not kill the consumer either
            }
            retriedAt.putIfAbsent(id, System.nanoTime());
            successAttempt.put(id, d.attempt());
            checker.received(d);
        });

        publishAll(topic, messages("failure", 10), checker);
        awaitAllReceived(checker);

        assertThat(successAttempt.values()).as("attempt number of the redelivery").containsOnly(2);
        long minGapMillis = FAILURE_REDELIVERY_DELAY.minus(EARLY_TOLERANCE).toMillis();
        for (String id : retriedAt.keySet()) {
            long gapMillis = TimeUnit.NANOSECONDS.toMillis(retriedAt.get(id) - failedAt.get(id));
            assertThat(gapMillis).as("ms between the failure of %s and its redelivery (failure redelivery delay %s)",
                    id, FAILURE_REDELIVERY_DELAY).isGreaterThanOrEqualTo(minGapMillis);
        }
        checker.assertComplete();
    }

    /**
     * A subscription closed while a handler is stuck loses nothing: messages acknowledged before the
     * close are not delivered again, the abandoned one and those never fetched go to the next
     * subscription of the group.
     */
    @Test
    void unackedMessagesSurviveSubscriberCloseAndReopen() throws Exception {
        String topic = uniqueName("reopen");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Set<String> ackedBeforeClose = ConcurrentHashMap.newKeySet();
        AtomicReferenceOnce abandoned = new AtomicReferenceOnce();
        CountDownLatch stuck = latch(1);
        CountDownLatch letGo = latch(1);
        Subscription first = subscribe(options(topic, group).concurrency(1).leaseTimeout(features.leaseTimeout()).build(), d -> {
            if (ackedBeforeClose.size() < 5) {
                ackedBeforeClose.add(d.message().id());
                checker.received(d);
                return;
            }
            abandoned.setOnce(d.message().id());
            stuck.countDown();
            // Blocks until the test let it go after close() returned, or until interrupted by close().
            block(letGo, features.awaitTimeout(), "the test to close the subscription");
            throw new IllegalStateException("handler abandoned by close(); must not be acknowledged");
        });

        publishAll(topic, messages("reopen", 20), checker);
        assertThat(stuck.await(features.awaitTimeout().toMillis(), TimeUnit.MILLISECONDS))
                .as("sixth message reached the handler").isTrue();
        first.close(Duration.ofMillis(500));
        letGo.countDown();
        assertThat(first.isRunning()).isFalse();

        subscribe(options(topic, group).leaseTimeout(features.leaseTimeout()).build(), checker::received);
        awaitAllReceived(checker);

        assertThat(checker.timesReceived(abandoned.get())).as("abandoned message %s received after reopen", abandoned.get())
                .isGreaterThanOrEqualTo(1);
        for (String id : ackedBeforeClose) {
            assertThat(checker.timesReceived(id)).as("message %s was acknowledged before close; received again", id)
                    .isEqualTo(1);
        }
        checker.assertComplete();
    }

    /** Messages published while a group has no running subscriber reach its next subscriber. */
    @Test
    void newSubscriberOfExistingGroupReceivesEarlierMessages() throws Exception {
        String topic = uniqueName("existing");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        subscribe(options(topic, group).build(), checker::received).close();   // creates the group

        publishAll(topic, messages("existing", 100), checker);
        subscribe(options(topic, group).build(), checker::received);
        awaitAllReceived(checker);
        checker.assertComplete();
    }

    /**
     * A consumer JVM killed with SIGKILL in the middle of handling loses nothing: what it had not
     * acknowledged is delivered to another consumer of the group once its lease expires.
     */
    @Test
    void redeliversAfterConsumerJvmIsKilled() throws Exception {
        assumeTrue(features.crossProcess(), skipped("crossProcess", false));
        String topic = uniqueName("sigkill");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        KillableConsumerMain.Args args = new KillableConsumerMain.Args(childTransportFactory().getName(), topic, group,
                2, features.leaseTimeout(), Duration.ofMillis(200), Duration.ofMinutes(5));
        Map<String, String> props = new LinkedHashMap<>();
        childTransportConfig().forEach((k, v) -> props.put(KillableConsumerMain.CONFIG_PREFIX + k, v));
        ChildJvm child = closeAfterTest(ChildJvm.builder(KillableConsumerMain.class)
                .args(args.toArgs()).systemProperties(props).start());
        child.awaitLine(KillableConsumerMain.READY, features.awaitTimeout());

        publishAll(topic, messages("sigkill", 40), checker);
        // Kill once it has finished a few messages and is in the middle of another one.
        await("child handled 3 messages and is handling another").until(() -> {
            Set<String> handled = childIds(child, KillableConsumerMain.HANDLED);
            Set<String> started = childIds(child, KillableConsumerMain.STARTED);
            started.removeAll(handled);
            return handled.size() >= 3 && !started.isEmpty();
        });
        child.kill();

        Set<String> handledByChild = childIds(child, KillableConsumerMain.HANDLED);
        Set<String> inFlightAtKill = childIds(child, KillableConsumerMain.STARTED);
        inFlightAtKill.removeAll(handledByChild);
        handledByChild.forEach(checker::received);
        assertThat(inFlightAtKill).as("messages the child was handling when killed").isNotEmpty();

        subscribe(options(topic, group).concurrency(4).leaseTimeout(features.leaseTimeout()).build(), checker::received);
        awaitAllReceived(checker);
        for (String id : inFlightAtKill) {
            assertThat(checker.timesReceived(id)).as("message %s, in flight in the killed JVM, redelivered", id)
                    .isGreaterThanOrEqualTo(1);
        }
        checker.assertComplete();
    }

    private static Set<String> childIds(ChildJvm child, String prefix) {
        return child.lines().stream().filter(l -> l.startsWith(prefix)).map(l -> l.substring(prefix.length()))
                .collect(Collectors.toCollection(HashSet::new));
    }

    /**
     * Closing the transport (and restarting the broker, when the test can) loses no published message:
     * messages consumed before, waiting during, and published after the restart all arrive.
     */
    @Test
    void noAcknowledgedMessageLostAcrossTransportRestart() throws Exception {
        assumeTrue(features.survivesRestart(), skipped("survivesRestart", false));
        String topic = uniqueName("restart");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Subscription before = subscribe(options(topic, group).leaseTimeout(features.leaseTimeout()).build(), checker::received);
        publishAll(topic, messages("before", 50), checker);
        awaitAllReceived(checker);
        before.close();

        publishAll(topic, messages("waiting", 50), checker);   // durable, nobody consuming
        transport.close();
        restartBroker();
        transport = Objects.requireNonNull(createTransport(), "createTransport() returned null");

        subscribe(options(topic, group).leaseTimeout(features.leaseTimeout()).build(), checker::received);
        Message probe = messages("after-probe", 1).get(0);
        await("publisher usable after the restart").ignoreExceptions().until(() -> publish(topic, probe) != null);
        checker.sent(probe);
        publishAll(topic, messages("after", 50), checker);
        awaitAllReceived(checker);
        checker.assertComplete();
    }

    // ---------------------------------------------------------------------------------------------
    // Retry, dead letters, malformed and oversize messages
    // ---------------------------------------------------------------------------------------------

    /**
     * With dead-letter and retry middleware, a message that always fails is retried with backoff and
     * then stored in {@code <topic>.dlq} with its reason in headers, while other messages keep flowing
     * (a good message is handled before the poison message's last attempt).
     */
    @Test
    void poisonMessageIsDeadLetteredWhileOthersFlow() throws Exception {
        String topic = uniqueName("poison");
        String group = uniqueName("g");
        String dlq = topic + ".dlq";
        DeliveryChecker good = new DeliveryChecker(topic);
        DeliveryChecker dead = new DeliveryChecker(dlq);
        Map<String, Message> deadLetters = new ConcurrentHashMap<>();
        subscribe(options(dlq, uniqueName("dlq-reader")).build(), d -> {
            deadLetters.put(d.message().id(), d.message());
            dead.received(d);
        });
        List<Long> poisonAttempts = Collections.synchronizedList(new ArrayList<>());
        AtomicLong firstGoodHandled = new AtomicLong();
        Router router = router(b -> b
                .use(DeadLetterMiddleware.to(transport.publisher()))
                .use(RetryMiddleware.builder().maxAttempts(3).initialDelay(Duration.ofMillis(500)).multiplier(1.0)
                        .maxDelay(Duration.ofMillis(500)).jitter(false).build()));
        router.route(options(topic, group).concurrency(1).build(), d -> {
            if (d.message().header("test-poison").isPresent()) {
                poisonAttempts.add(System.nanoTime());
                throw new IllegalStateException("cannot handle poison message " + d.message().id());
            }
            firstGoodHandled.compareAndSet(0, System.nanoTime());
            good.received(d);
        });
        router.start();

        Message poison = Message.builder().id("poison-" + UUID.randomUUID()).header("test-poison", "true")
                .payload("poison".getBytes(StandardCharsets.UTF_8)).build();
        publish(topic, poison);
        dead.sent(poison);
        await("first attempt of the poison message").until(() -> !poisonAttempts.isEmpty());
        publishAll(topic, messages("good", 30), good);

        awaitAllReceived(good);
        awaitAllReceived(dead);

        Message dl = deadLetters.get(poison.id());
        assertThat(dl.payload()).as("dead letter payload").isEqualTo(poison.payload());
        assertThat(dl.headers()).as("dead letter headers")
                .containsEntry(Headers.ORIGINAL_TOPIC, topic)
                .containsEntry(Headers.ATTEMPTS, "3")
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalStateException.class.getName())
                .containsEntry(Headers.DEAD_LETTER_REASON, "max-attempts")
                .containsEntry(Headers.DEAD_LETTER_GROUP, group)
                .containsEntry("test-poison", "true")
                .containsKeys(Headers.FIRST_FAILURE_AT, Headers.LAST_FAILURE_AT);
        assertThat(dl.headers().get(Headers.EXCEPTION_MESSAGE)).contains("cannot handle poison message");
        Instant firstFailure = Instant.parse(dl.headers().get(Headers.FIRST_FAILURE_AT));
        Instant lastFailure = Instant.parse(dl.headers().get(Headers.LAST_FAILURE_AT));
        assertThat(firstFailure).as("first failure at").isBeforeOrEqualTo(lastFailure);
        assertThat(poisonAttempts).as("attempts of the poison message").hasSize(3);
        assertThat(firstGoodHandled.get()).as("a good message was handled while the poison message waited for a retry")
                .isLessThan(poisonAttempts.get(2));
        good.assertComplete();
        dead.assertComplete();
    }

    /** Payload for the malformed-payload test. */
    public record Order(String id, int quantity) {
    }

    /**
     * On a typed route, a payload that does not decode is dead-lettered at once (not retried) with
     * {@link DecodingException} and the target type in its headers; good payloads still arrive.
     */
    @Test
    void malformedPayloadIsDeadLetteredWithReason() throws Exception {
        String topic = uniqueName("malformed");
        String dlq = topic + ".dlq";
        DeliveryChecker good = new DeliveryChecker(topic);
        DeliveryChecker dead = new DeliveryChecker(dlq);
        Map<String, Message> deadLetters = new ConcurrentHashMap<>();
        subscribe(options(dlq, uniqueName("dlq-reader")).build(), d -> {
            deadLetters.put(d.message().id(), d.message());
            dead.received(d);
        });
        Map<String, Order> orders = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> handlerCalls = new ConcurrentHashMap<>();
        Middleware countCalls = next -> d -> {
            handlerCalls.computeIfAbsent(d.message().id(), k -> new AtomicInteger()).incrementAndGet();
            next.handle(d);
        };
        Router router = router(b -> b
                .use(DeadLetterMiddleware.to(transport.publisher()))
                .use(RetryMiddleware.builder().maxAttempts(5).initialDelay(Duration.ofMillis(100)).jitter(false).build()));
        router.route(options(topic, uniqueName("g")).build(), Order.class, (order, d) -> {
            orders.put(d.message().id(), order);
            good.received(d);
        }, countCalls);
        router.start();

        Message valid = json("valid", "{\"id\":\"o-1\",\"quantity\":2}");
        Message broken = json("broken", "{not json");
        Message wrongType = json("wrong-type", "{\"id\":\"o-2\",\"quantity\":\"many\"}");
        publish(topic, valid);
        good.sent(valid);
        for (Message m : List.of(broken, wrongType)) {
            publish(topic, m);
            dead.sent(m);
        }
        awaitAllReceived(good);
        awaitAllReceived(dead);

        assertThat(orders.get(valid.id())).isEqualTo(new Order("o-1", 2));
        for (Message m : List.of(broken, wrongType)) {
            Message dl = deadLetters.get(m.id());
            assertThat(dl.payload()).as("dead letter payload of %s", m.id()).isEqualTo(m.payload());
            assertThat(dl.headers()).as("dead letter headers of %s", m.id())
                    .containsEntry(Headers.EXCEPTION_CLASS, DecodingException.class.getName())
                    .containsEntry(Headers.DEAD_LETTER_REASON, "non-retryable")
                    .containsEntry(Headers.ATTEMPTS, "1")
                    .containsEntry(Headers.ORIGINAL_TOPIC, topic);
            assertThat(dl.headers().get(Headers.EXCEPTION_MESSAGE)).as("exception message names the target type")
                    .contains(Order.class.getName());
            assertThat(handlerCalls.get(m.id()).get()).as("decoding attempts of %s (must not be retried)", m.id())
                    .isEqualTo(1);
        }
        good.assertComplete();
        dead.assertComplete();
    }

    private static Message json(String prefix, String text) {
        return Message.builder().id(prefix + "-" + UUID.randomUUID()).header(Headers.CONTENT_TYPE, "application/json")
                .payload(text.getBytes(StandardCharsets.UTF_8)).build();
    }

    /**
     * A payload over the declared limit is refused with a {@link MessageTooLargeException} naming its
     * size and the limit, alone or in a batch (where the other messages' outcomes are reported), and
     * is never delivered.
     */
    @Test
    void oversizeMessageGetsClearError() throws Exception {
        assumeTrue(features.maxPayloadBytes() != TransportFeatures.NO_PAYLOAD_LIMIT, skipped("maxPayloadBytes", false));
        int limit = features.maxPayloadBytes();
        String topic = uniqueName("oversize");
        DeliveryChecker checker = new DeliveryChecker(topic);
        subscribe(options(topic, uniqueName("g")).build(), checker::received);

        Message big = Message.builder().id("big-" + UUID.randomUUID()).payload(new byte[limit + 1]).build();
        Throwable error = publishFailure(() -> transport.publisher().publish(topic, big), features.awaitTimeout());
        assertThat(error).as("publishing %d bytes over a limit of %d", limit + 1, limit)
                .isInstanceOf(MessageTooLargeException.class);
        MessageTooLargeException tooLarge = (MessageTooLargeException) error;
        assertThat(tooLarge.size()).isEqualTo(limit + 1);
        assertThat(tooLarge.limit()).isEqualTo(limit);
        assertThat(tooLarge.getMessage()).contains(Integer.toString(limit + 1)).contains(Integer.toString(limit));

        List<Message> small = messages("small", 2);
        Message bigInBatch = Message.builder().id("big-batch-" + UUID.randomUUID()).payload(new byte[limit + 1]).build();
        List<Message> batch = List.of(small.get(0), bigInBatch, small.get(1));
        Throwable batchError = publishFailure(() -> transport.publisher().publishAll(topic, batch), features.awaitTimeout());
        if (batchError instanceof BatchPublishException partial) {
            assertThat(partial.outcomes()).as("one outcome per message").hasSize(3);
            assertThat(partial.outcomes().get(1).failure()).as("outcome of the oversize message")
                    .containsInstanceOf(MessageTooLargeException.class);
            partial.outcomes().stream().filter(o -> o.result().isPresent()).forEach(o -> checker.sent(o.messageId()));
        } else {
            // The whole batch was refused: then none of it may be delivered.
            assertThat(batchError).as("batch with an oversize message").isInstanceOf(MessageTooLargeException.class);
        }

        Message after = messages("after", 1).get(0);
        publish(topic, after);
        checker.sent(after);
        awaitAllReceived(checker);
        assertThat(checker.timesReceived(big.id())).as("oversize message delivered").isZero();
        checker.assertComplete();
    }

    // ---------------------------------------------------------------------------------------------
    // Delays
    // ---------------------------------------------------------------------------------------------

    /** Delayed messages (relative, absolute, zero and past) arrive no earlier than due and soon after it. */
    @Test
    void delayedDeliveryIsOnTime() throws Exception {
        assumeTrue(features.delayedDelivery(), skipped("delayedDelivery", false));
        DelayedPublisher publisher = (DelayedPublisher) transport.publisher();
        String topic = uniqueName("delayed");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        subscribe(options(topic, uniqueName("g")).build(), d -> {
            receivedAt.putIfAbsent(d.message().id(), Instant.now());
            checker.received(d);
        });

        List<Message> m = messages("delayed", 4);
        Map<String, Instant> due = new LinkedHashMap<>();
        due.put(m.get(0).id(), Instant.now().plusSeconds(1));
        get(publisher.publishAfter(topic, m.get(0), Duration.ofSeconds(1)));
        Instant absolute = Instant.now().plusMillis(1500);
        due.put(m.get(1).id(), absolute);
        get(publisher.publishAt(topic, m.get(1), absolute));
        due.put(m.get(2).id(), Instant.now());
        get(publisher.publishAfter(topic, m.get(2), Duration.ZERO));
        due.put(m.get(3).id(), Instant.now());
        get(publisher.publishAt(topic, m.get(3), Instant.now().minus(Duration.ofMinutes(1))));
        checker.sentAll(m);
        awaitAllReceived(checker);

        due.forEach((id, dueAt) -> {
            Instant at = receivedAt.get(id);
            assertThat(at).as("%s received at (due %s)", id, dueAt).isAfterOrEqualTo(dueAt.minus(EARLY_TOLERANCE));
            assertThat(at).as("%s received at (due %s, tolerance %s)", id, dueAt, features.delayTolerance())
                    .isBeforeOrEqualTo(dueAt.plus(features.delayTolerance()));
        });
        checker.assertComplete();
    }

    /** A message delayed by 60 s, published first, does not hold back one delayed by 1 s. */
    @Test
    void longDelayDoesNotBlockShortDelay() throws Exception {
        assumeTrue(features.delayedDelivery(), skipped("delayedDelivery", false));
        DelayedPublisher publisher = (DelayedPublisher) transport.publisher();
        String topic = uniqueName("hol");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        subscribe(options(topic, uniqueName("g")).build(), d -> {
            receivedAt.putIfAbsent(d.message().id(), Instant.now());
            checker.received(d);
        });

        Message longDelay = messages("long", 1).get(0);
        Message shortDelay = messages("short", 1).get(0);
        get(publisher.publishAfter(topic, longDelay, Duration.ofSeconds(60)));
        Instant shortDue = Instant.now().plusSeconds(1);
        get(publisher.publishAfter(topic, shortDelay, Duration.ofSeconds(1)));
        checker.sent(shortDelay);

        await("the 1 s message arrives long before the 60 s one is due")
                .atMost(Duration.ofSeconds(1).plus(features.delayTolerance()))
                .until(checker::allReceived);
        assertThat(receivedAt.get(shortDelay.id())).as("1 s message received at (due %s)", shortDue)
                .isAfterOrEqualTo(shortDue.minus(EARLY_TOLERANCE));
        assertThat(checker.timesReceived(longDelay.id())).as("60 s message delivered early").isZero();
        checker.assertComplete();
    }

    /**
     * Two delayed messages due 300 ms apart, published while the subscription waits: each arrives no
     * earlier than due and within {@link TransportFeatures#delayTolerance()} after it. A consumer that,
     * after taking the first, waits out its poll interval instead of the second one's due time fails.
     */
    @Test
    void consecutiveDelayedMessagesArriveOnTime() throws Exception {
        assumeTrue(features.delayedDelivery(), skipped("delayedDelivery", false));
        assertDelayedMessagesOnTime("consecutive", Duration.ofMillis(2000), Duration.ofMillis(2300));
    }

    /** As {@link #consecutiveDelayedMessagesArriveOnTime()}, with a message delayed by 60 s published first. */
    @Test
    void consecutiveDelayedMessagesBehindALongDelayArriveOnTime() throws Exception {
        assumeTrue(features.delayedDelivery(), skipped("delayedDelivery", false));
        assertDelayedMessagesOnTime("behind-long", Duration.ofSeconds(60), Duration.ofMillis(2000),
                Duration.ofMillis(2300));
    }

    /**
     * Subscribes, publishes one message per delay in the order given, and checks that every message
     * due within the await timeout arrives no earlier than due and within the declared tolerance after
     * it; one due later must not arrive. Prints each message's lateness.
     */
    private void assertDelayedMessagesOnTime(String name, Duration... delays) throws Exception {
        DelayedPublisher publisher = (DelayedPublisher) transport.publisher();
        String topic = uniqueName(name);
        DeliveryChecker checker = new DeliveryChecker(topic);
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        subscribe(options(topic, uniqueName("g")).build(), d -> {
            receivedAt.putIfAbsent(d.message().id(), Instant.now());
            checker.received(d);
        });

        record Due(Message message, Duration delay, Instant earliest, Instant latest) {
        }
        List<Due> expected = new ArrayList<>();
        List<Message> notYetDue = new ArrayList<>();
        List<Message> m = messages(name, delays.length);
        for (int i = 0; i < delays.length; i++) {
            Instant before = Instant.now();
            get(publisher.publishAfter(topic, m.get(i), delays[i]));
            if (delays[i].compareTo(features.awaitTimeout()) < 0) {
                expected.add(new Due(m.get(i), delays[i], before.plus(delays[i]), Instant.now().plus(delays[i])));
                checker.sent(m.get(i));
            } else {
                notYetDue.add(m.get(i));
            }
        }
        awaitAllReceived(checker);

        for (Due due : expected) {
            Instant at = receivedAt.get(due.message().id());
            System.out.printf("%s: message delayed by %d ms arrived %d ms after it was due (%s)%n", testName,
                    due.delay().toMillis(), Duration.between(due.earliest(), at).toMillis(), transport.name());
            assertThat(at).as("message delayed by %s received at (due %s)", due.delay(), due.earliest())
                    .isAfterOrEqualTo(due.earliest().minus(EARLY_TOLERANCE));
            assertThat(at).as("message delayed by %s received at (due by %s, tolerance %s)", due.delay(), due.latest(),
                            features.delayTolerance())
                    .isBeforeOrEqualTo(due.latest().plus(features.delayTolerance()));
        }
        for (Message early : notYetDue) {
            assertThat(checker.timesReceived(early.id())).as("%s delivered before it was due", early.id()).isZero();
        }
        checker.assertComplete();
    }

    // ---------------------------------------------------------------------------------------------
    // Shutdown, ordering, idempotency, backpressure, faults
    // ---------------------------------------------------------------------------------------------

    /**
     * {@code close()} while handlers run: it waits for them, acknowledges their messages (they are
     * not delivered again), starts no new work, and leaves the rest to the group's next subscriber.
     */
    @Test
    void gracefulShutdownFinishesInFlightWork() throws Exception {
        String topic = uniqueName("graceful");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Set<String> startedInFirst = ConcurrentHashMap.newKeySet();
        CountDownLatch finish = latch(1);
        // Twice the declared lease: the test holds these handlers for a while on purpose, and an
        // expiry during that hold would be a duplicate of the test's making, not the transport's.
        Duration lease = features.leaseTimeout().multipliedBy(2);
        Subscription first = subscribe(options(topic, group).concurrency(2).leaseTimeout(lease).build(), d -> {
            startedInFirst.add(d.message().id());
            block(finish, features.awaitTimeout(), "the test to let in-flight handlers finish");
            checker.received(d);
        });
        publishAll(topic, messages("graceful", 6), checker);
        await("two handlers in flight").until(() -> startedInFirst.size() == 2);
        Set<String> inFlight = Set.copyOf(startedInFirst);

        CompletableFuture<Void> closing = CompletableFuture.runAsync(first::close);
        closeAfterTest(() -> closing.get(features.awaitTimeout().toMillis(), TimeUnit.MILLISECONDS));
        await("close() started").until(() -> !first.isRunning());
        await("close() waits while handlers run").during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                .until(() -> !closing.isDone());
        finish.countDown();
        get(closing);
        assertThat(startedInFirst).as("messages started by a subscription that was closing").isEqualTo(inFlight);
        for (String id : inFlight) {
            assertThat(checker.timesReceived(id)).as("in-flight message %s finished during close", id).isEqualTo(1);
        }

        subscribe(options(topic, group).leaseTimeout(features.leaseTimeout()).build(), checker::received);
        awaitAllReceived(checker);
        // Had close() not acknowledged them, they would come back at the latest when their lease expires.
        await("in-flight messages not delivered again")
                .during(lease.plusMillis(500))
                .atMost(lease.plus(features.awaitTimeout()))
                .until(() -> inFlight.stream().allMatch(id -> checker.timesReceived(id) == 1));
        checker.assertComplete();
    }

    /**
     * Once {@code close()} has begun, an idle subscription takes no new message: one published while it
     * is closing goes to the group's next subscriber.
     */
    @Test
    void closingSubscriptionTakesNoNewMessages() throws Exception {
        String topic = uniqueName("closing");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Set<String> takenWhileClosing = ConcurrentHashMap.newKeySet();
        Subscription closingOne = subscribe(options(topic, group).concurrency(4).build(), d -> {
            takenWhileClosing.add(d.message().id());
            checker.received(d);
        });
        CompletableFuture<Void> closing = CompletableFuture.runAsync(closingOne::close);
        closeAfterTest(() -> closing.get(features.awaitTimeout().toMillis(), TimeUnit.MILLISECONDS));
        await("close() started").until(() -> !closingOne.isRunning());
        publishAll(topic, messages("closing", 5), checker);
        get(closing);

        subscribe(options(topic, group).build(), checker::received);
        awaitAllReceived(checker);
        assertThat(takenWhileClosing).as("messages taken by a subscription after its close() began").isEmpty();
        checker.assertComplete();
    }

    /** Messages with one key are handled in publish order, one at a time, even with concurrency 4. */
    @Test
    void perKeyOrdering() throws Exception {
        assumeTrue(features.keyOrdering(), skipped("keyOrdering", false));
        assertKeyOrderKept(uniqueName("ordering"), topic -> options(topic, uniqueName("g")));
    }

    /**
     * A subscription asking for {@link MessageOrdering#KEY}: a transport declaring
     * {@link TransportFeatures#keyOrdering()} handles each key's messages in publish order, one at a
     * time, with concurrency 4; any other transport refuses it at subscribe with an
     * {@link IllegalArgumentException} that names the ordering, rather than running without it.
     */
    @Test
    void keyOrderingOnRequestIsKeptOrRefused() throws Exception {
        String topic = uniqueName("ordering-key");
        if (features.keyOrdering()) {
            assertKeyOrderKept(topic, t -> options(t, uniqueName("g")).ordering(MessageOrdering.KEY));
            return;
        }
        SubscriptionOptions asking = options(topic, uniqueName("g")).concurrency(4).ordering(MessageOrdering.KEY).build();
        Throwable refused = catchThrowable(() -> subscribe(asking, d -> { }));
        assertThat(refused)
                .as("subscribing with ordering(MessageOrdering.KEY) on %s, which does not declare keyOrdering: it must be"
                        + " refused at subscribe, not run without per-key order", transport.name())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MessageOrdering.KEY")
                .hasMessageContaining(topic);
    }

    /**
     * A {@link TransportOption} no transport understands is refused at subscribe, directly and through a
     * {@link Router}, with an {@link IllegalArgumentException} naming the option's type and the
     * transport: options meant for one transport never silently do nothing on another.
     */
    @Test
    void foreignTransportOptionIsRefusedAtSubscribe() {
        String topic = uniqueName("foreign-option");
        SubscriptionOptions foreign = options(topic, uniqueName("g")).with(new ForeignOption("x")).build();
        Throwable refused = catchThrowable(() -> subscribe(foreign, d -> { }));
        assertThat(refused).as("subscribing with an option of no transport on %s", transport.name())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(ForeignOption.class.getName())
                .hasMessageContaining(transport.name());
        Router router = router(b -> { });
        router.route(foreign, d -> { });
        Throwable refusedByRoute = catchThrowable(router::start);
        assertThat(refusedByRoute).as("starting a route with an option of no transport on %s", transport.name())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(ForeignOption.class.getName());
    }

    /** A transport option that belongs to no transport. */
    private record ForeignOption(String value) implements TransportOption {
    }

    private void assertKeyOrderKept(String topic, Function<String, SubscriptionOptions.Builder> options)
            throws Exception {
        DeliveryChecker checker = new DeliveryChecker(topic);
        int keys = 5;
        int perKey = 60;
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        AtomicBoolean overlapped = new AtomicBoolean();
        subscribe(options.apply(topic).concurrency(4).build(), d -> {
            String key = d.message().key().orElseThrow();
            if (running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                overlapped.set(true);
            }
            try {
                seen.computeIfAbsent(key, k -> Collections.synchronizedList(new ArrayList<>()))
                        .add(Integer.parseInt(d.message().header("test-seq").orElseThrow()));
                work(Duration.ofMillis(1));
                checker.received(d);
            } finally {
                running.get(key).decrementAndGet();
            }
        });

        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < perKey; i++) {
            for (int k = 0; k < keys; k++) {
                batch.add(Message.builder().key("key-" + k).header("test-seq", Integer.toString(i))
                        .payload(("k" + k + " #" + i).getBytes(StandardCharsets.UTF_8)).build());
            }
        }
        publishAll(topic, batch, checker);
        awaitAllReceived(checker);

        List<Integer> expected = IntStream.range(0, perKey).boxed().toList();
        for (int k = 0; k < keys; k++) {
            assertThat(seen.get("key-" + k)).as("order in which key-%d was handled", k).containsExactlyElementsOf(expected);
        }
        assertThat(overlapped).as("two messages of one key handled at the same time").isFalse();
        checker.assertComplete();
    }

    /**
     * Each message published twice with the same id, the copies handled concurrently behind the
     * idempotency middleware: the handler runs once per id.
     */
    @Test
    void idempotencyUnderConcurrentDuplicateDelivery() throws Exception {
        String topic = uniqueName("idempotent");
        DeliveryChecker checker = new DeliveryChecker(topic);
        Map<String, AtomicInteger> settled = new ConcurrentHashMap<>();
        Middleware countSettled = next -> d -> {
            next.handle(d);
            if (d.retryRequest().isEmpty()) {
                settled.computeIfAbsent(d.message().id(), k -> new AtomicInteger()).incrementAndGet();
            }
        };
        IdempotencyStore store = idempotencyStore();
        Router router = router(b -> b.use(countSettled).use(new IdempotencyMiddleware(store)));
        router.route(options(topic, uniqueName("g")).concurrency(8).build(), d -> {
            work(Duration.ofMillis(50));   // long enough for the two copies to overlap
            checker.received(d);
        });
        router.start();

        List<Message> originals = messages("idem", 20);
        List<CompletableFuture<PublishResult>> futures = new ArrayList<>();
        for (Message m : originals) {
            futures.add(transport.publisher().publish(topic, m));
            futures.add(transport.publisher().publish(topic, m));
        }
        for (CompletableFuture<PublishResult> f : futures) {
            get(f);
        }
        checker.sentAll(originals);

        await("both copies of every message settled").until(() -> originals.stream()
                .allMatch(m -> settled.getOrDefault(m.id(), new AtomicInteger()).get() >= 2));
        checker.assertComplete();
        checker.assertNoDuplicates();
    }

    /** A subscription never runs more handlers at once than its concurrency, however much is waiting. */
    @Test
    void concurrentHandlersNeverExceedConcurrency() throws Exception {
        String topic = uniqueName("concurrency");
        DeliveryChecker checker = new DeliveryChecker(topic);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        CountDownLatch go = latch(1);
        int concurrency = 3;
        subscribe(options(topic, uniqueName("g")).concurrency(concurrency).maxInFlight(6).build(), d -> {
            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            try {
                block(go, features.awaitTimeout(), "the test to unblock handlers");
                work(Duration.ofMillis(5));
                checker.received(d);
            } finally {
                running.decrementAndGet();
            }
        });
        publishAll(topic, messages("concurrency", 60), checker);

        await("handlers saturated").until(() -> running.get() == concurrency);
        await("no more handlers start while all are busy").during(Duration.ofMillis(300))
                .until(() -> running.get() == concurrency);
        go.countDown();
        awaitAllReceived(checker);
        assertThat(maxRunning.get()).as("most handlers running at once (concurrency %d)", concurrency)
                .isLessThanOrEqualTo(concurrency);
        checker.assertComplete();
    }

    /**
     * A consumer whose handler is stuck holds at most {@code maxInFlight} messages: another consumer
     * of the group gets all the others meanwhile (backpressure instead of unbounded prefetch).
     */
    @Test
    void blockedConsumerHoldsAtMostMaxInFlight() throws Exception {
        assumeTrue(!features.partitionedConsumers(), skipped("partitionedConsumers", true)
                .replace("lacks this capability", "assigns messages by partition, not to any idle consumer"));
        String topic = uniqueName("backpressure");
        String group = uniqueName("g");
        DeliveryChecker checker = new DeliveryChecker(topic);
        int maxInFlight = 2;
        int total = 30;
        CountDownLatch unblock = latch(1);
        AtomicInteger startedInBlocked = new AtomicInteger();
        subscribe(options(topic, group).concurrency(1).maxInFlight(maxInFlight).build(), d -> {
            startedInBlocked.incrementAndGet();
            block(unblock, features.awaitTimeout(), "the test to unblock the slow consumer");
            checker.received(d);
        });
        publishAll(topic, messages("backpressure", total), checker);
        await("the slow consumer is stuck in its handler").until(() -> startedInBlocked.get() == 1);

        AtomicInteger receivedByOther = new AtomicInteger();
        subscribe(options(topic, group).concurrency(4).build(), d -> {
            receivedByOther.incrementAndGet();
            checker.received(d);
        });
        await("the other consumer receives everything the stuck one does not hold")
                .until(() -> receivedByOther.get() >= total - maxInFlight);
        assertThat(startedInBlocked.get()).as("handlers started in the stuck consumer").isEqualTo(1);
        unblock.countDown();
        awaitAllReceived(checker);
        checker.assertComplete();
    }

    /**
     * Connections cut and healed: subscribers resume by themselves, publishes made during the cut
     * either complete or fail visibly (and succeed when repeated), nothing published is lost.
     */
    @Test
    void connectionCutIsSurvived() throws Exception {
        assumeTrue(features.connectionFaults(), skipped("connectionFaults", false));
        String topic = uniqueName("cut");
        DeliveryChecker checker = new DeliveryChecker(topic);
        subscribe(options(topic, uniqueName("g")).concurrency(2).leaseTimeout(features.leaseTimeout()).build(),
                checker::received);
        publishAll(topic, messages("before-cut", 20), checker);
        awaitAllReceived(checker);

        cutConnections();
        Map<Message, CompletableFuture<PublishResult>> duringCut = new LinkedHashMap<>();
        try {
            for (Message m : messages("during-cut", 10)) {
                try {
                    duringCut.put(m, transport.publisher().publish(topic, m));
                } catch (RuntimeException e) {
                    duringCut.put(m, CompletableFuture.failedFuture(e));
                }
            }
            // The length of the fault, not a wait for a result: long enough for clients to notice.
            Thread.sleep(2000);
        } finally {
            healConnections();
        }

        for (Map.Entry<Message, CompletableFuture<PublishResult>> e : duringCut.entrySet()) {
            try {
                get(e.getValue());
            } catch (TimeoutException stuck) {
                throw new AssertionError("publish during the cut neither completed nor failed within "
                        + features.awaitTimeout() + " after the connection healed", stuck);
            } catch (Exception failed) {
                await("publish succeeds again after heal").ignoreExceptions()
                        .until(() -> publish(topic, e.getKey()) != null);
            }
            checker.sent(e.getKey());
        }
        List<Message> afterHeal = messages("after-heal", 20);
        await("publisher usable after heal").ignoreExceptions().until(() -> publish(topic, afterHeal.get(0)) != null);
        checker.sent(afterHeal.get(0));
        publishAll(topic, afterHeal.subList(1, afterHeal.size()), checker);
        awaitAllReceived(checker);
        checker.assertComplete();
    }

    // ---------------------------------------------------------------------------------------------

    private static final class AtomicReferenceOnce {
        private volatile String value;

        synchronized void setOnce(String v) {
            if (value == null) {
                value = v;
            }
        }

        String get() {
            return Objects.requireNonNull(value, "no value was set");
        }
    }

    private static final class AutoCloseableExecutor implements AutoCloseable {
        final ExecutorService executor;

        AutoCloseableExecutor(int threads) {
            this.executor = Executors.newFixedThreadPool(threads);
        }

        @Override
        public void close() throws InterruptedException {
            executor.shutdownNow();
            executor.awaitTermination(10, TimeUnit.SECONDS);
        }
    }
}
