package io.courier.testkit.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.courier.tasks.DuplicateTaskException;
import io.courier.tasks.QueueInfo;
import io.courier.tasks.RetryDelay;
import io.courier.tasks.RetryLaterException;
import io.courier.tasks.Schedule;
import io.courier.tasks.ServerInfo;
import io.courier.tasks.SkipRetryException;
import io.courier.tasks.Task;
import io.courier.tasks.TaskClient;
import io.courier.tasks.TaskContext;
import io.courier.tasks.TaskHandler;
import io.courier.tasks.TaskIdConflictException;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskInspector;
import io.courier.tasks.TaskMux;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.TaskScheduler;
import io.courier.tasks.TaskServer;
import io.courier.tasks.TaskState;
import io.courier.tasks.TaskStateException;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TaskStore;
import io.courier.tasks.spi.TransactionalTaskStore;
import io.courier.testkit.fault.ChildJvm;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The task-store conformance suite: everything the task client, server, scheduler and inspector
 * promise, run against a real store. A store's test extends this class, says how to make a fresh,
 * isolated store for one test (a new file, schema or key prefix) and names the factory that opens it,
 * and inherits every test:
 *
 * <pre>{@code
 * class SqliteTaskStoreTest extends TaskStoreConformanceSuite {
 *     @TempDir Path dir;
 *
 *     protected Map<String, String> newStoreConfig() {
 *         return Map.of("file", dir.resolve("tasks-" + UUID.randomUUID() + ".db").toString());
 *     }
 *
 *     protected Class<? extends TaskStoreFactory> storeFactory() {
 *         return SqliteStores.class;   // public, no-arg constructor: the SIGKILL test's child JVM loads it
 *     }
 *
 *     protected Connection callerConnection() throws SQLException {   // only for a TransactionalTaskStore
 *         return ((SqlTaskStore) store).dataSource().getConnection();
 *     }
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> Before each test {@link #newStoreConfig()} describes a fresh store and the
 * factory opens it; after the test every server and scheduler it started is closed, then the store,
 * then {@link #dropStore(Map)} removes what {@code newStoreConfig()} created.
 *
 * <p><b>Capabilities.</b> A store whose tasks a second process cannot reach (it lives in one JVM)
 * overrides {@link #sharedAcrossProcesses()} to return false, and the SIGKILL test is skipped. A store
 * that implements {@link TransactionalTaskStore} runs the
 * transactional-enqueue test, for which the test class must override {@link #callerConnection()};
 * for any other store that test is skipped with a message saying so. A store that implements
 * {@link TaskArrivals} runs the wake-up tests: with a poll interval of 60 s, a task enqueued (here, in
 * the caller's transaction, or through a second store opened from the same configuration) starts
 * within 5 s, and scheduled tasks within 5 s of their due time; for other stores they are skipped. The
 * retry of an idle server starts on time with any store.
 *
 * <p>Timing: no sleeps to wait for results (Awaitility polls with generous limits); the only time
 * assertions are lower bounds that are correctness (a scheduled task never runs early, a retry never
 * comes before its backoff) and upper bounds many times the configured interval, or, in the
 * wake-up tests, far below it (5 s against a poll interval of 60 s: what they check is that no poll
 * was needed).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class TaskStoreConformanceSuite {

    /** Upper bound for anything the suite waits for. */
    protected static final Duration PATIENCE = Duration.ofSeconds(20);

    /** The store of the running test, opened before it and closed after it. */
    protected TaskStore store;
    /** A client over {@link #store}. */
    protected TaskClient client;
    /** An inspector over {@link #store}. */
    protected TaskInspector inspector;
    private Map<String, String> config;
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private final List<Runnable> releases = new CopyOnWriteArrayList<>();

    /**
     * The configuration of a fresh, empty store used by the running test only (a new file, schema or
     * key prefix), as {@link #storeFactory()} understands it. Keys must not contain {@code =}.
     */
    protected abstract Map<String, String> newStoreConfig() throws Exception;

    /**
     * The factory that opens a store from {@link #newStoreConfig()}'s configuration: public, with a
     * public no-argument constructor, because the SIGKILL test's child JVM loads it by name.
     */
    protected abstract Class<? extends TaskStoreFactory> storeFactory();

    /**
     * True (the default) when stores opened from one configuration in several processes share their
     * tasks (a database file, a database, Redis): the SIGKILL test then kills a worker in a child JVM
     * and checks that this process recovers its task. A store that lives in one JVM (the in-memory
     * store) returns false, and that test is skipped with a message saying so.
     */
    protected boolean sharedAcrossProcesses() {
        return true;
    }

    /** Removes what {@link #newStoreConfig()} created; the store is closed already. Does nothing by default. */
    protected void dropStore(Map<String, String> config) throws Exception {
    }

    /**
     * A new JDBC connection to the database of {@link #store}, for the transactional-enqueue test;
     * the suite closes it. Must be overridden when the store is a {@link TransactionalTaskStore}.
     */
    protected Connection callerConnection() throws Exception {
        throw new UnsupportedOperationException(store.getClass().getName() + " is a TransactionalTaskStore: "
                + getClass().getName() + " must override callerConnection() to test enqueue in the caller's transaction");
    }

    @BeforeEach
    void openStore() throws Exception {
        config = newStoreConfig();
        store = storeFactory().getConstructor().newInstance().open(config);
        client = TaskClient.create(store);
        inspector = TaskInspector.create(store);
    }

    @AfterEach
    void closeStore() throws Exception {
        releases.forEach(Runnable::run);
        Collections.reverse(toClose);
        for (AutoCloseable c : toClose) {
            c.close();
        }
        if (store != null) {
            store.close();
        }
        if (config != null) {
            dropStore(config);
        }
    }

    /**
     * The configuration of a second store in the same database as {@code config}'s but under another
     * table or key prefix, as {@link #storeFactory()} understands it, for the prefix-isolation test;
     * {@code null} (the default) when the store has no prefix to choose, and the test is skipped.
     * {@link #dropStore(Map)} is called with it after the test.
     */
    protected Map<String, String> otherPrefixConfig(Map<String, String> config) {
        return null;
    }

    /** A server builder with intervals short enough for tests. */
    protected TaskServer.Builder server(TaskHandler handler) {
        return server(store, handler);
    }

    /** A server builder over {@code on} with intervals short enough for tests. */
    protected TaskServer.Builder server(TaskStore on, TaskHandler handler) {
        return TaskServer.builder(on)
                .handler(handler)
                .concurrency(4)
                .pollInterval(Duration.ofMillis(50))
                .recoveryInterval(Duration.ofMillis(200))
                .leaseDuration(Duration.ofSeconds(3))
                .heartbeatInterval(Duration.ofMillis(300))
                .shutdownTimeout(Duration.ofSeconds(2))
                .retryDelay(RetryDelay.fixed(Duration.ofMillis(50)));
    }

    protected TaskServer start(TaskServer.Builder builder) {
        TaskServer s = builder.build().start();
        toClose.add(s);
        return s;
    }

    private TaskInfo awaitState(String id, TaskState state) {
        AtomicReference<TaskInfo> seen = new AtomicReference<>();
        await().atMost(PATIENCE).until(() -> {
            inspector.task(id).ifPresent(seen::set);
            return seen.get() != null && seen.get().state() == state;
        });
        return seen.get();
    }

    private void awaitGone(String id) {
        await().atMost(PATIENCE).until(() -> inspector.task(id).isEmpty());
    }

    record Email(String to, String subject) {
    }

    // ------------------------------------------------------------------ basics

    @Test
    void enqueuedTaskIsProcessedWithItsTypedPayloadAndThenDeleted() {
        List<Email> seen = new CopyOnWriteArrayList<>();
        TaskInfo info = client.enqueue(Task.ofJson("email:deliver", new Email("ada@example.com", "Hi")),
                TaskOptions.builder().maxRetry(3).timeout(Duration.ofMinutes(5)).build());
        assertThat(info.state()).isEqualTo(TaskState.PENDING);
        assertThat(info.queue()).isEqualTo("default");
        assertThat(inspector.task(info.id())).hasValueSatisfying(t -> {
            assertThat(t.type()).isEqualTo("email:deliver");
            assertThat(t.maxRetry()).isEqualTo(3);
            assertThat(t.timeout()).contains(Duration.ofMinutes(5));
            assertThat(t.task().payloadAs(Email.class)).isEqualTo(new Email("ada@example.com", "Hi"));
        });

        start(server(TaskMux.builder().handle("email:deliver", Email.class, (ctx, email) -> seen.add(email)).build()));

        await().atMost(PATIENCE).until(() -> seen.size() == 1);
        assertThat(seen).containsExactly(new Email("ada@example.com", "Hi"));
        awaitGone(info.id());
        await().atMost(PATIENCE).until(() -> inspector.queue("default").processed() == 1);
    }

    @Test
    void completedTaskIsKeptForItsRetentionThenDeleted() {
        TaskInfo info = client.enqueue(Task.of("noop"), TaskOptions.builder().retention(Duration.ofSeconds(1)).build());
        start(server(ctx -> { }));

        TaskInfo done = awaitState(info.id(), TaskState.COMPLETED);
        assertThat(done.completedAt()).isPresent();
        assertThat(inspector.listTasks("default", TaskState.COMPLETED, 0, 10)).extracting(TaskInfo::id).contains(info.id());
        awaitGone(info.id());
    }

    @Test
    void callerChosenIdIsUsedAndAnExistingIdIsRejected() {
        TaskOptions opts = TaskOptions.builder().taskId("order-42").build();
        TaskInfo first = client.enqueue(Task.ofText("order:confirm", "42"), opts);
        assertThat(first.id()).isEqualTo("order-42");

        assertThatThrownBy(() -> client.enqueue(Task.ofText("order:confirm", "other"), opts))
                .isInstanceOf(TaskIdConflictException.class)
                .hasMessageContaining("order-42");
        assertThat(inspector.task("order-42")).hasValueSatisfying(t -> assertThat(t.task().payloadText()).isEqualTo("42"));
    }

    // ------------------------------------------------------------------ uniqueness

    @Test
    void uniqueTaskAcceptsExactlyOneOfTwentyConcurrentEnqueuers() throws Exception {
        int enqueuers = 20;
        ExecutorService pool = Executors.newFixedThreadPool(enqueuers);
        CountDownLatch go = new CountDownLatch(1);
        TaskOptions unique = TaskOptions.builder().unique(Duration.ofMinutes(5)).build();
        List<Future<String>> results = new ArrayList<>();
        try {
            for (int i = 0; i < enqueuers; i++) {
                results.add(pool.submit(() -> {
                    go.await();
                    try {
                        return client.enqueue(Task.ofText("report:build", "2024-06"), unique).id();
                    } catch (DuplicateTaskException e) {
                        return "duplicate";
                    }
                }));
            }
            go.countDown();
            List<String> outcomes = new ArrayList<>();
            for (Future<String> f : results) {
                outcomes.add(f.get(30, TimeUnit.SECONDS));
            }
            assertThat(outcomes).filteredOn(o -> !o.equals("duplicate")).hasSize(1);
            assertThat(outcomes).filteredOn(o -> o.equals("duplicate")).hasSize(enqueuers - 1);
        } finally {
            pool.shutdownNow();
        }
        assertThat(inspector.queue("default").pending()).isEqualTo(1);
        // Same type and payload in another queue, or another payload, is a different task.
        client.enqueue(Task.ofText("report:build", "2024-06"), unique.toBuilder().queue("other").build());
        client.enqueue(Task.ofText("report:build", "2024-07"), unique);
    }

    @Test
    void uniqueLockExpiresAfterItsTtlAndIsReleasedWhenTheTaskCompletes() {
        TaskOptions shortLock = TaskOptions.builder().unique(Duration.ofMillis(500)).build();
        client.enqueue(Task.ofText("sync", "a"), shortLock);
        assertThatThrownBy(() -> client.enqueue(Task.ofText("sync", "a"), shortLock))
                .isInstanceOf(DuplicateTaskException.class)
                .hasMessageContaining("sync");
        await().atMost(PATIENCE).ignoreException(DuplicateTaskException.class)
                .until(() -> client.enqueue(Task.ofText("sync", "a"), shortLock) != null);

        TaskOptions longLock = TaskOptions.builder().unique(Duration.ofHours(1)).build();
        TaskInfo b = client.enqueue(Task.ofText("sync", "b"), longLock);
        start(server(ctx -> { }));
        awaitGone(b.id());
        assertThat(client.enqueue(Task.ofText("sync", "b"), longLock).state()).isEqualTo(TaskState.PENDING);
    }

    // ------------------------------------------------------------------ scheduling

    @Test
    void scheduledTaskRunsNotBeforeItsTimeAndSoonAfter() {
        Map<String, Instant> startedAt = new ConcurrentHashMap<>();
        Instant processAt = Instant.now().plusMillis(800);
        TaskInfo info = client.enqueue(Task.of("later"), TaskOptions.builder().processAt(processAt).build());
        assertThat(info.state()).isEqualTo(TaskState.SCHEDULED);
        assertThat(inspector.queue("default").scheduled()).isEqualTo(1);
        assertThat(inspector.listTasks("default", TaskState.SCHEDULED, 0, 5))
                .singleElement().satisfies(t -> assertThat(t.nextProcessAt()).contains(
                        Instant.ofEpochMilli(processAt.toEpochMilli())));

        start(server(ctx -> startedAt.put(ctx.id(), Instant.now())));

        await().atMost(PATIENCE).until(() -> startedAt.containsKey(info.id()));
        Instant ran = startedAt.get(info.id());
        assertThat(ran).isAfterOrEqualTo(Instant.ofEpochMilli(processAt.toEpochMilli()));
        // Documented precision is one poll interval (50 ms here); allow generously for a loaded machine.
        assertThat(Duration.between(processAt, ran)).isLessThan(Duration.ofSeconds(5));
    }

    // ------------------------------------------------------------------ waking up

    /**
     * The poll interval of the wake-up tests: no task of theirs may wait for it. A task that starts
     * within {@link #PROMPTLY} was started by an announcement or a known due time, not by a poll.
     */
    private static final Duration LONG_POLL = Duration.ofSeconds(60);
    /** Generous bound for a start that needs no poll, on a loaded machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(5);

    /**
     * Starts a server with {@link #LONG_POLL} that records when each task started (for
     * {@code wake:fails-once}, when its retry started: its first attempt fails, with a retry delay of
     * 500 ms), and waits until it ran a first task: its fetchers and forwarder have looked at the store
     * and wait.
     */
    private Map<String, Instant> idleServerWithLongPoll() {
        Map<String, Instant> startedAt = new ConcurrentHashMap<>();
        TaskMux mux = TaskMux.builder()
                .handle("wake:fails-once", ctx -> {
                    if (startedAt.putIfAbsent(ctx.id(), Instant.EPOCH) == null) {
                        throw new IllegalStateException("first attempt fails");
                    }
                    startedAt.replace(ctx.id(), Instant.EPOCH, Instant.now());
                })
                .handlePrefix("wake:", ctx -> startedAt.putIfAbsent(ctx.id(), Instant.now()))
                .build();
        start(server(mux).pollInterval(LONG_POLL).retryDelay(RetryDelay.fixed(Duration.ofMillis(500))));
        String first = client.enqueue(Task.of("wake:first"), TaskOptions.defaults()).id();
        await().atMost(PATIENCE).until(() -> startedAt.containsKey(first));
        return startedAt;
    }

    /** The wake-up tests other than the retry's need a store that announces new tasks. */
    private void assumeArrivals() {
        assumeTrue(store instanceof TaskArrivals, "skipped: " + store.name() + " is not a TaskArrivals store "
                + "(it does not announce new tasks, so servers find them at their next poll)");
    }

    private static Instant inOneSecond() {
        return Instant.now().plusSeconds(1).truncatedTo(ChronoUnit.MILLIS);
    }

    private static void awaitStarted(Map<String, Instant> startedAt, String id) {
        await().atMost(PATIENCE).until(() -> startedAt.containsKey(id) && !startedAt.get(id).equals(Instant.EPOCH));
    }

    private static void assertStartedOnTime(Map<String, Instant> startedAt, String id, Instant due) {
        awaitStarted(startedAt, id);
        assertThat(startedAt.get(id)).isAfterOrEqualTo(due).isBefore(due.plus(PROMPTLY));
    }

    @Test
    void enqueuedTaskWakesAnIdleServerLongBeforeItsPollInterval() {
        assumeArrivals();
        Map<String, Instant> startedAt = idleServerWithLongPoll();

        String id = client.enqueue(Task.of("wake:now"), TaskOptions.defaults()).id();

        await().atMost(PROMPTLY).until(() -> startedAt.containsKey(id));
    }

    @Test
    void scheduledTasksStartWhenDueNotAtTheNextPoll() {
        assumeArrivals();
        // Scheduled before the server started: it learns the due time from the store.
        Instant earlyDue = Instant.now().plusSeconds(3).truncatedTo(ChronoUnit.MILLIS);
        String early = client.enqueue(Task.of("wake:scheduled-before-start"),
                TaskOptions.builder().processAt(earlyDue).build()).id();
        Map<String, Instant> startedAt = idleServerWithLongPoll();

        Instant due = inOneSecond();
        String later = client.enqueue(Task.of("wake:scheduled"), TaskOptions.builder().processAt(due).build()).id();

        assertStartedOnTime(startedAt, later, due);
        assertStartedOnTime(startedAt, early, earlyDue);
    }

    @Test
    void retryOfAnIdleServerStartsWhenDueNotAtTheNextPoll() {
        Map<String, Instant> startedAt = idleServerWithLongPoll();

        Instant enqueuedAt = Instant.now();
        String id = client.enqueue(Task.of("wake:fails-once"), TaskOptions.defaults()).id();

        awaitStarted(startedAt, id);
        assertThat(startedAt.get(id)).isBetween(enqueuedAt.plusMillis(500), enqueuedAt.plus(PROMPTLY));
    }

    @Test
    void taskEnqueuedThroughAnotherStoreInstanceWakesTheServer() throws Exception {
        assumeArrivals();
        Map<String, Instant> startedAt = idleServerWithLongPoll();
        // Another "process": a store of its own, with its own connections, over the same tasks.
        try (TaskStore other = storeFactory().getConstructor().newInstance().open(config)) {
            TaskClient otherClient = TaskClient.create(other);

            String now = otherClient.enqueue(Task.of("wake:from-another-store"), TaskOptions.defaults()).id();
            await().atMost(PROMPTLY).until(() -> startedAt.containsKey(now));

            Instant due = inOneSecond();
            String later = otherClient.enqueue(Task.of("wake:scheduled-by-another-store"),
                    TaskOptions.builder().processAt(due).build()).id();
            assertStartedOnTime(startedAt, later, due);
        }
    }

    @Test
    void taskEnqueuedInACallersTransactionWakesTheServerWhenItCommits() throws Exception {
        assumeTrue(store instanceof TransactionalTaskStore,
                "skipped: " + store.name() + " is not a TransactionalTaskStore (enqueue in the caller's transaction)");
        assumeArrivals();
        Map<String, Instant> startedAt = idleServerWithLongPoll();
        String id;
        try (Connection tx = callerConnection()) {
            tx.setAutoCommit(false);
            id = client.enqueue(tx, Task.of("wake:in-transaction"), TaskOptions.defaults()).id();
            tx.commit();
            tx.setAutoCommit(true);
        }

        await().atMost(PROMPTLY).until(() -> startedAt.containsKey(id));
    }

    // ------------------------------------------------------------------ failures and retries

    @Test
    void failedTaskIsRetriedWithBackoffAndArchivedAfterItsLastRetry() {
        Duration backoff = Duration.ofMillis(300);
        List<Integer> retriedSeen = new CopyOnWriteArrayList<>();
        List<Instant> attempts = new CopyOnWriteArrayList<>();
        List<Integer> delayAsked = new CopyOnWriteArrayList<>();
        TaskInfo info = client.enqueue(Task.of("flaky"), TaskOptions.builder().maxRetry(2).build());

        start(server(ctx -> {
            attempts.add(Instant.now());
            retriedSeen.add(ctx.retried());
            throw new IllegalStateException("boom " + ctx.retried());
        }).retryDelay((retry, error, task) -> {
            delayAsked.add(retry);
            return backoff;
        }));

        TaskInfo archived = awaitState(info.id(), TaskState.ARCHIVED);
        assertThat(retriedSeen).containsExactly(0, 1, 2);
        assertThat(delayAsked).containsExactly(1, 2);
        assertThat(archived.retried()).isEqualTo(2);
        assertThat(archived.lastError()).hasValueSatisfying(e -> assertThat(e).contains("IllegalStateException").contains("boom 2"));
        assertThat(archived.lastFailedAt()).isPresent();
        for (int i = 1; i < attempts.size(); i++) {
            assertThat(Duration.between(attempts.get(i - 1), attempts.get(i))).isGreaterThanOrEqualTo(backoff.minusMillis(5));
        }
        await().atMost(PATIENCE).untilAsserted(() -> {
            QueueInfo q = inspector.queue("default");
            assertThat(q.failed()).isEqualTo(3);
            assertThat(q.processed()).isEqualTo(3);
            assertThat(q.archived()).isEqualTo(1);
        });
    }

    @Test
    void skipRetryArchivesAtOnceAndRetryLaterDoesNotConsumeTheBudget() {
        List<Integer> laterRetried = new CopyOnWriteArrayList<>();
        TaskInfo skip = client.enqueue(Task.of("skip"), TaskOptions.builder().maxRetry(5).build());
        TaskInfo later = client.enqueue(Task.of("later"), TaskOptions.builder().maxRetry(0).build());
        TaskInfo notCounted = client.enqueue(Task.of("transient"), TaskOptions.builder().maxRetry(0).build());
        AtomicInteger transientCalls = new AtomicInteger();

        start(server(TaskMux.builder()
                .handle("skip", ctx -> {
                    throw new SkipRetryException("customer deleted");
                })
                .handle("later", ctx -> {
                    laterRetried.add(ctx.retried());
                    if (laterRetried.size() < 3) {
                        throw new RetryLaterException(Duration.ofMillis(50), "rate limited");
                    }
                })
                .handle("transient", ctx -> {
                    if (transientCalls.incrementAndGet() < 3) {
                        throw new java.io.UncheckedIOException(new java.io.IOException("connection reset"));
                    }
                })
                .build())
                .isFailure(e -> !(e instanceof java.io.UncheckedIOException)));

        TaskInfo skipped = awaitState(skip.id(), TaskState.ARCHIVED);
        assertThat(skipped.retried()).isZero();
        assertThat(skipped.lastError()).hasValueSatisfying(e -> assertThat(e).contains("customer deleted"));
        awaitGone(later.id());
        assertThat(laterRetried).containsExactly(0, 0, 0);
        awaitGone(notCounted.id());
        assertThat(transientCalls.get()).isEqualTo(3);
    }

    @Test
    void unknownTypeAndMalformedPayloadAreArchivedWithTheReasonAndTheWorkerGoesOn() {
        List<String> handled = new CopyOnWriteArrayList<>();
        TaskInfo unknown = client.enqueue(Task.of("nobody:handles"));
        TaskInfo malformed = client.enqueue(Task.ofText("email:deliver", "{not json"));
        TaskInfo good = client.enqueue(Task.ofJson("email:deliver", new Email("bob@example.com", "ok")));

        start(server(TaskMux.builder()
                .handle("email:deliver", Email.class, (ctx, email) -> handled.add(email.to()))
                .build()).concurrency(1));

        assertThat(awaitState(unknown.id(), TaskState.ARCHIVED).lastError())
                .hasValueSatisfying(e -> assertThat(e).contains("no handler registered for task type 'nobody:handles'"));
        TaskInfo bad = awaitState(malformed.id(), TaskState.ARCHIVED);
        assertThat(bad.retried()).isZero();
        assertThat(bad.lastError()).hasValueSatisfying(e -> assertThat(e).contains("DecodingException").contains("Email"));
        awaitGone(good.id());
        assertThat(handled).containsExactly("bob@example.com");
    }

    @Test
    void errorsThrownByHandlersNeverKillTheWorker() {
        List<String> done = new CopyOnWriteArrayList<>();
        List<TaskInfo> tasks = new ArrayList<>();
        tasks.add(client.enqueue(Task.of("oom"), TaskOptions.builder().maxRetry(0).build()));
        tasks.add(client.enqueue(Task.of("stack"), TaskOptions.builder().maxRetry(0).build()));
        tasks.add(client.enqueue(Task.of("npe"), TaskOptions.builder().maxRetry(0).build()));
        for (int i = 0; i < 3; i++) {
            tasks.add(client.enqueue(Task.ofText("ok", String.valueOf(i))));
        }
        start(server(TaskMux.builder()
                .handle("oom", ctx -> {
                    throw new OutOfMemoryError("simulated");
                })
                .handle("stack", ctx -> {
                    throw new StackOverflowError("simulated");
                })
                .handle("npe", ctx -> {
                    throw new NullPointerException("simulated");
                })
                .handle("ok", ctx -> done.add(ctx.task().payloadText()))
                .build()).concurrency(1));

        await().atMost(PATIENCE).until(() -> done.size() == 3);
        assertThat(awaitState(tasks.get(0).id(), TaskState.ARCHIVED).lastError())
                .hasValueSatisfying(e -> assertThat(e).contains("OutOfMemoryError"));
        assertThat(awaitState(tasks.get(1).id(), TaskState.ARCHIVED).lastError())
                .hasValueSatisfying(e -> assertThat(e).contains("StackOverflowError"));
        awaitState(tasks.get(2).id(), TaskState.ARCHIVED);
    }

    // ------------------------------------------------------------------ time limits

    @Test
    void timeoutInterruptsASlowHandlerAndCountsAsAFailedAttempt() {
        AtomicBoolean interrupted = new AtomicBoolean();
        List<Integer> retried = new CopyOnWriteArrayList<>();
        TaskInfo info = client.enqueue(Task.of("slow"),
                TaskOptions.builder().timeout(Duration.ofMillis(300)).maxRetry(1).build());

        start(server(ctx -> {
            retried.add(ctx.retried());
            if (ctx.retried() == 0) {
                try {
                    new CountDownLatch(1).await();
                } catch (InterruptedException e) {
                    interrupted.set(true);
                    throw e;
                }
            }
        }));

        awaitGone(info.id());
        assertThat(interrupted).isTrue();
        assertThat(retried).containsExactly(0, 1);
        await().atMost(PATIENCE).until(() -> inspector.queue("default").failed() == 1);
    }

    @Test
    void timeoutSettlesTheAttemptEvenIfTheHandlerIgnoresInterrupts() {
        AtomicBoolean release = new AtomicBoolean();
        releases.add(() -> release.set(true));
        TaskInfo info = client.enqueue(Task.of("stubborn"),
                TaskOptions.builder().timeout(Duration.ofMillis(300)).maxRetry(0).build());

        start(server(ctx -> {
            while (!release.get()) {
                Thread.onSpinWait();
                Thread.interrupted();   // swallow every interrupt
            }
        }));

        TaskInfo archived = awaitState(info.id(), TaskState.ARCHIVED);
        assertThat(archived.lastError()).hasValueSatisfying(e -> assertThat(e).contains("timed out"));
        assertThat(release).isFalse();   // the handler was still spinning when the attempt was settled
    }

    @Test
    void deadlineCutsOffASlowHandlerAndArchivesTheTask() {
        AtomicBoolean interrupted = new AtomicBoolean();
        TaskInfo info = client.enqueue(Task.of("slow"),
                TaskOptions.builder().deadline(Instant.now().plusMillis(700)).maxRetry(5).build());

        start(server(ctx -> {
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException e) {
                interrupted.set(true);
                throw e;
            }
        }));

        TaskInfo archived = awaitState(info.id(), TaskState.ARCHIVED);
        assertThat(interrupted).isTrue();
        assertThat(archived.retried()).isZero();
        assertThat(archived.lastError()).hasValueSatisfying(e -> assertThat(e).contains("deadline"));
    }

    // ------------------------------------------------------------------ leases, crashes, shutdown

    @Test
    void gracefulShutdownWaitsForShortTasksAndReturnsUnfinishedOnesToPending() throws Exception {
        CountDownLatch longStarted = new CountDownLatch(2);
        CountDownLatch shortMayFinish = new CountDownLatch(1);
        AtomicInteger shortDone = new AtomicInteger();
        TaskInfo short1 = client.enqueue(Task.of("short"), TaskOptions.builder().maxRetry(3).build());
        TaskInfo long1 = client.enqueue(Task.of("long"), TaskOptions.builder().maxRetry(3).build());
        TaskInfo long2 = client.enqueue(Task.of("long"), TaskOptions.builder().maxRetry(3).build());
        TaskServer server = server(TaskMux.builder()
                .handle("short", ctx -> {
                    shortMayFinish.await();
                    shortDone.incrementAndGet();
                })
                .handle("long", ctx -> {
                    longStarted.countDown();
                    new CountDownLatch(1).await();
                })
                .build()).shutdownTimeout(Duration.ofMillis(800)).build().start();
        try {
            await().atMost(PATIENCE).until(() -> longStarted.getCount() == 0 && server.activeCount() == 3);
            Thread closer = new Thread(server::close);
            closer.start();
            await().atMost(PATIENCE).until(() -> !server.isRunning());
            shortMayFinish.countDown();
            closer.join(PATIENCE.toMillis());
            assertThat(closer.isAlive()).isFalse();
        } finally {
            server.close();
        }

        assertThat(shortDone).hasValue(1);
        assertThat(inspector.task(short1.id())).isEmpty();
        for (TaskInfo t : List.of(long1, long2)) {
            assertThat(inspector.task(t.id())).hasValueSatisfying(i -> {
                assertThat(i.state()).isEqualTo(TaskState.PENDING);
                assertThat(i.retried()).isZero();
            });
        }
        assertThat(inspector.servers()).extracting(ServerInfo::id).doesNotContain(server.id());

        List<String> rerun = new CopyOnWriteArrayList<>();
        start(server(ctx -> rerun.add(ctx.id())));
        await().atMost(PATIENCE).until(() -> rerun.size() == 2);
        assertThat(rerun).containsExactlyInAnyOrder(long1.id(), long2.id());
    }

    @Test
    void renewedLeaseKeepsALongTaskFromBeingRecoveredByAnotherServer() {
        AtomicInteger runs = new AtomicInteger();
        TaskInfo info = client.enqueue(Task.of("long"));
        TaskHandler handler = ctx -> {
            runs.incrementAndGet();
            new CountDownLatch(1).await(2, TimeUnit.SECONDS);   // the task's own work: longer than the lease
        };
        start(server(handler).leaseDuration(Duration.ofMillis(600)).heartbeatInterval(Duration.ofMillis(100)));
        await().atMost(PATIENCE).until(() -> runs.get() == 1);
        start(server(handler).recoveryInterval(Duration.ofMillis(50)));

        awaitGone(info.id());
        assertThat(runs).hasValue(1);
    }

    @Test
    void taskOfAWorkerKilledWithSigkillRunsAgainAfterItsLeaseExpires() throws Exception {
        assumeTrue(sharedAcrossProcesses(), "skipped: " + getClass().getSimpleName() + " declares that its stores are "
                + "not shared across processes (sharedAcrossProcesses() is false), so no child JVM can reach its tasks");
        TaskInfo info = client.enqueue(Task.of("crash-me"), TaskOptions.builder().maxRetry(3).build());
        try (ChildJvm child = ChildJvm.builder(KillableTaskWorker.class)
                .args(KillableTaskWorker.arguments(storeFactory(), config))
                .start()) {
            String started = child.awaitLine(l -> l.startsWith("STARTED "), PATIENCE);
            assertThat(started).isEqualTo("STARTED " + info.id());
            assertThat(inspector.task(info.id())).hasValueSatisfying(t -> assertThat(t.state()).isEqualTo(TaskState.ACTIVE));

            child.kill();   // SIGKILL: no shutdown hook, no requeue, the lease just stops being renewed
        }
        assertThat(inspector.task(info.id())).hasValueSatisfying(t -> assertThat(t.state()).isEqualTo(TaskState.ACTIVE));

        List<Integer> retried = new CopyOnWriteArrayList<>();
        start(server(ctx -> retried.add(ctx.retried())));
        awaitGone(info.id());
        // Documented: the lost attempt counts as a failure, so the rerun is retry 1.
        assertThat(retried).containsExactly(1);
    }

    // ------------------------------------------------------------------ results, attempts, errors

    record Summary(String to, int sent) {
    }

    @Test
    void handlerResultsAreStoredWithTheTaskAndShownByTheInspector() {
        TaskInfo report = client.enqueue(Task.of("report"), TaskOptions.builder().retention(Duration.ofHours(1)).build());
        TaskInfo partial = client.enqueue(Task.of("partial"), TaskOptions.builder().maxRetry(0).build());
        TaskInfo big = client.enqueue(Task.of("big"), TaskOptions.builder().retention(Duration.ofHours(1)).build());
        TaskInfo none = client.enqueue(Task.of("none"), TaskOptions.builder().retention(Duration.ofHours(1)).build());
        List<Boolean> written = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> tooLarge = new AtomicReference<>();

        start(server(TaskMux.builder()
                .handle("report", ctx -> written.add(ctx.writeResult(new Summary("bob@example.com", 3))))
                .handle("partial", ctx -> {
                    written.add(ctx.writeResult("half done".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                    throw new IllegalStateException("then it failed");
                })
                .handle("big", ctx -> {
                    try {
                        ctx.writeResult(new byte[1025]);
                    } catch (IllegalArgumentException e) {
                        tooLarge.set(e);
                    }
                    written.add(ctx.writeResult(new byte[1024]));
                })
                .handle("none", ctx -> { })
                .build()).maxResultBytes(1024));

        TaskInfo reported = awaitState(report.id(), TaskState.COMPLETED);
        assertThat(reported.result()).hasValueSatisfying(r ->
                assertThat(io.courier.JsonCodec.defaults().decode(r, Summary.class)).isEqualTo(new Summary("bob@example.com", 3)));
        assertThat(awaitState(partial.id(), TaskState.ARCHIVED).result()).hasValueSatisfying(r ->
                assertThat(new String(r, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("half done"));
        assertThat(awaitState(big.id(), TaskState.COMPLETED).result()).hasValueSatisfying(r -> assertThat(r).hasSize(1024));
        assertThat(tooLarge.get()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be at most 1024 bytes").hasMessageContaining("but was 1025");
        assertThat(awaitState(none.id(), TaskState.COMPLETED).result()).isEmpty();
        assertThat(written).containsOnly(true).hasSize(3);
        assertThat(inspector.listTasks("default", TaskState.COMPLETED, 0, 10))
                .filteredOn(t -> t.id().equals(report.id())).singleElement()
                .satisfies(t -> assertThat(t.result()).isPresent());
    }

    @Test
    void aResultIsWrittenOnlyUnderTheCurrentLeaseAndOutlivesARetry() {
        TaskInfo task = client.enqueue(Task.of("result:lease"), TaskOptions.builder().queue("results").build());
        Instant now = Instant.now();
        String token = store.claim("results", 1, "conformance", now, Duration.ofMinutes(1)).get(0).leaseToken();
        byte[] first = {1, 2, 3};

        assertThat(store.writeResult(new Lease(task.id(), "stale-token"), first)).isFalse();
        assertThat(inspector.task(task.id()).orElseThrow().result()).isEmpty();
        assertThat(store.writeResult(new Lease(task.id(), token), first)).isTrue();
        assertThat(inspector.task(task.id()).orElseThrow().result()).hasValue(first);

        assertThat(store.retry(new Lease(task.id(), token), now, now.plusSeconds(3600), "failed", true)).isTrue();
        TaskInfo retrying = inspector.task(task.id()).orElseThrow();
        assertThat(retrying.state()).isEqualTo(TaskState.RETRY);
        assertThat(retrying.result()).hasValue(first);
        assertThat(store.writeResult(new Lease(task.id(), token), new byte[] {9})).isFalse();
        assertThat(inspector.task(task.id()).orElseThrow().result()).hasValue(first);
    }

    @Test
    void attemptIsOneBasedAndCountsAsTheRetryCountDoes() {
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        List<Boolean> last = new CopyOnWriteArrayList<>();
        TaskInfo info = client.enqueue(Task.of("attempts"), TaskOptions.builder().maxRetry(2).build());

        start(server(ctx -> {
            attempts.add(ctx.attempt());
            last.add(ctx.isLastAttempt());
            switch (attempts.size()) {
                case 1 -> throw new RetryLaterException(Duration.ofMillis(50), "not yet");   // not counted
                case 2, 3 -> throw new IllegalStateException("attempt " + ctx.attempt() + " failed");
                default -> { }
            }
        }));

        awaitGone(info.id());
        assertThat(attempts).containsExactly(1, 1, 2, 3);
        assertThat(last).containsExactly(false, false, false, true);
    }

    @Test
    void lastErrorNamesTheExceptionClassOnEveryFailurePath() {
        TaskOptions once = TaskOptions.builder().maxRetry(0).build();
        Map<String, String> expected = new java.util.LinkedHashMap<>();
        expected.put(client.enqueue(Task.of("throws"), once).id(), "java.lang.IllegalStateException: broken");
        expected.put(client.enqueue(Task.of("throws-no-message"), once).id(), "java.lang.IllegalStateException");
        expected.put(client.enqueue(Task.of("error"), once).id(), "java.lang.AssertionError: panic");
        expected.put(client.enqueue(Task.of("shy"), once).id(), ShyException.class.getName() + ": hidden");
        expected.put(client.enqueue(Task.of("skip"), once).id(), "io.courier.tasks.SkipRetryException: customer deleted");
        expected.put(client.enqueue(Task.of("later"), once).id(), "io.courier.tasks.RetryLaterException: rate limited");
        expected.put(client.enqueue(Task.of("nobody:handles"), once).id(),
                "io.courier.tasks.UnknownTaskTypeException: no handler registered for task type 'nobody:handles'");
        expected.put(client.enqueue(Task.of("slow"), TaskOptions.builder().maxRetry(0).timeout(Duration.ofMillis(200)).build()).id(),
                "io.courier.tasks.TaskTimeoutException: attempt timed out");
        expected.put(client.enqueue(Task.of("slow"), TaskOptions.builder().maxRetry(0)
                        .deadline(Instant.now().plusMillis(500)).build()).id(),
                "io.courier.tasks.TaskTimeoutException: deadline");
        TaskInfo orphan = client.enqueue(Task.of("orphan"), TaskOptions.builder().queue("orphans").maxRetry(0).build());
        store.claim("orphans", 1, "a-worker-that-dies", Instant.now(), Duration.ofMillis(100));
        expected.put(orphan.id(), "io.courier.tasks.LeaseExpiredException: lease expired");

        start(server(TaskMux.builder()
                .handle("throws", ctx -> {
                    throw new IllegalStateException("broken");
                })
                .handle("throws-no-message", ctx -> {
                    throw new IllegalStateException();
                })
                .handle("error", ctx -> {
                    throw new AssertionError("panic");
                })
                .handle("shy", ctx -> {
                    throw new ShyException();
                })
                .handle("skip", ctx -> {
                    throw new SkipRetryException("customer deleted");
                })
                .handle("later", ctx -> {
                    throw new RetryLaterException(Duration.ofHours(1), "rate limited");
                })
                .handle("slow", ctx -> new CountDownLatch(1).await())
                .build()).concurrency(8).queue("default", 1).queue("orphans", 1));

        expected.forEach((id, error) -> {
            AtomicReference<TaskInfo> seen = new AtomicReference<>();
            await().atMost(PATIENCE).until(() -> {
                inspector.task(id).ifPresent(seen::set);
                return seen.get() != null && seen.get().lastError().isPresent();
            });
            assertThat(seen.get().lastError().get()).as("last error of %s", seen.get().type()).startsWith(error);
        });
    }

    /** An exception whose {@code toString()} leaves its class out. */
    static final class ShyException extends RuntimeException {
        ShyException() {
            super("hidden");
        }

        @Override
        public String toString() {
            return "something went wrong";
        }
    }

    // ------------------------------------------------------------------ store SPI

    @Test
    void completeAllSettlesEachTaskOnItsOwnLease() {
        TaskInfo unique = client.enqueue(Task.ofText("batch:unique", "u"), TaskOptions.builder().unique(Duration.ofHours(1)).build());
        TaskInfo kept = client.enqueue(Task.of("batch:kept"), TaskOptions.builder().retention(Duration.ofHours(1)).build());
        TaskInfo requeued = client.enqueue(Task.of("batch:requeued"));
        Instant now = Instant.now();
        Map<String, String> tokens = new ConcurrentHashMap<>();
        store.claim("default", 10, "conformance", now, Duration.ofMinutes(1))
                .forEach(c -> tokens.put(c.info().id(), c.leaseToken()));
        assertThat(tokens).containsOnlyKeys(unique.id(), kept.id(), requeued.id());
        assertThat(store.requeue(new Lease(requeued.id(), tokens.get(requeued.id())))).isTrue();

        Set<String> lost = store.completeAll(List.of(
                new Lease(unique.id(), tokens.get(unique.id())),
                new Lease(kept.id(), tokens.get(kept.id())),
                new Lease(requeued.id(), tokens.get(requeued.id())),   // stale: the task was requeued
                new Lease("no-such-task", "no-such-token")), now);

        assertThat(lost).containsExactlyInAnyOrder(requeued.id(), "no-such-task");
        assertThat(inspector.task(unique.id())).isEmpty();
        assertThat(inspector.task(kept.id())).hasValueSatisfying(t -> assertThat(t.state()).isEqualTo(TaskState.COMPLETED));
        assertThat(inspector.task(requeued.id())).hasValueSatisfying(t -> assertThat(t.state()).isEqualTo(TaskState.PENDING));
        // The unique lock went with the completed task.
        client.enqueue(Task.ofText("batch:unique", "u"), TaskOptions.builder().unique(Duration.ofHours(1)).build());
        // Completing again changes nothing and reports every lease stale.
        assertThat(store.completeAll(List.of(new Lease(kept.id(), tokens.get(kept.id()))), now)).containsExactly(kept.id());
        assertThat(store.completeAll(List.of(), now)).isEmpty();
    }

    // ------------------------------------------------------------------ queues

    @Test
    void strictPriorityNeverServesALowerQueueWhileAHigherOneHasWork() {
        int perQueue = 30;
        AtomicInteger violations = new AtomicInteger();
        AtomicInteger handled = new AtomicInteger();
        for (int i = 0; i < perQueue; i++) {
            client.enqueue(Task.of("low"), TaskOptions.builder().queue("low").build());
            client.enqueue(Task.of("mid"), TaskOptions.builder().queue("mid").build());
            client.enqueue(Task.of("high"), TaskOptions.builder().queue("high").build());
        }
        start(server(ctx -> {
            QueueInfo high = inspector.queue("high");
            QueueInfo mid = inspector.queue("mid");
            if (ctx.queue().equals("mid") && high.pending() > 0
                    || ctx.queue().equals("low") && (high.pending() > 0 || mid.pending() > 0)) {
                violations.incrementAndGet();
            }
            handled.incrementAndGet();
        }).strictPriority(true).concurrency(2).queue("high", 3).queue("mid", 2).queue("low", 1));

        await().atMost(PATIENCE).until(() -> handled.get() == 3 * perQueue);
        assertThat(violations).hasValue(0);
    }

    @Test
    void weightedQueuesAreServedRoughlyInProportion() throws Exception {
        // All three queues keep work for the whole measured run: critical needs ~60% of 1500 = 900.
        Map<String, Integer> backlog = Map.of("critical", 1200, "default", 700, "low", 350);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> fs = new ArrayList<>();
            backlog.forEach((queue, n) -> {
                for (int part = 0; part < 2; part++) {
                    fs.add(pool.submit(() -> {
                        for (int i = 0; i < n / 2; i++) {
                            client.enqueue(Task.of("w"), TaskOptions.builder().queue(queue).build());
                        }
                    }));
                }
            });
            for (Future<?> f : fs) {
                f.get(2, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        int measured = 1500;
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        TaskServer server = start(server(ctx -> order.add(ctx.queue()))
                .concurrency(2).queue("critical", 6).queue("default", 3).queue("low", 1));
        await().atMost(Duration.ofSeconds(50)).until(() -> order.size() >= measured);
        server.close();

        List<String> first;
        synchronized (order) {
            first = List.copyOf(order.subList(0, measured));
        }
        double critical = Collections.frequency(first, "critical") / (double) measured;
        double normal = Collections.frequency(first, "default") / (double) measured;
        double low = Collections.frequency(first, "low") / (double) measured;
        // Documented tolerance: each share within 8 percentage points of weight / total weight.
        assertThat(critical).as("critical share").isBetween(0.52, 0.68);
        assertThat(normal).as("default share").isBetween(0.22, 0.38);
        assertThat(low).as("low share").isBetween(0.02, 0.18);
    }

    // ------------------------------------------------------------------ periodic tasks

    @Test
    void periodicTaskIsEnqueuedOncePerTickWithTwoSchedulersAndTwoServers() {
        Map<String, AtomicInteger> runsPerTick = new ConcurrentHashMap<>();
        AtomicInteger duplicates = new AtomicInteger();
        TaskScheduler.Listener listener = new TaskScheduler.Listener() {
            @Override
            public void onDuplicate(String entryId, Instant tick) {
                duplicates.incrementAndGet();
            }
        };
        TaskHandler handler = ctx -> runsPerTick.computeIfAbsent(ctx.id(), k -> new AtomicInteger()).incrementAndGet();
        start(server(handler));
        start(server(handler));
        for (int i = 0; i < 2; i++) {
            TaskScheduler s = TaskScheduler.builder(store)
                    .register("heartbeat", Schedule.every(Duration.ofMillis(500)), Task.of("periodic:heartbeat"))
                    .listener(listener)
                    .build()
                    .start();
            toClose.add(s);
        }

        await().atMost(PATIENCE).until(() -> runsPerTick.size() >= 4);
        assertThat(runsPerTick.keySet()).allSatisfy(id -> assertThat(id).startsWith("heartbeat:"));
        assertThat(runsPerTick.values()).allSatisfy(n -> assertThat(n).hasValue(1));
        assertThat(duplicates.get()).isGreaterThanOrEqualTo(1);
    }

    // ------------------------------------------------------------------ transactions

    @Test
    void enqueueInACallersTransactionExistsOnlyIfItCommits() throws Exception {
        assumeTrue(store instanceof TransactionalTaskStore,
                "skipped: " + store.name() + " is not a TransactionalTaskStore (enqueue in the caller's transaction)");
        String rolledBack;
        String committed;
        try (Connection tx = callerConnection()) {
            tx.setAutoCommit(false);
            rolledBack = client.enqueue(tx, Task.of("order:confirm"), TaskOptions.defaults()).id();
            tx.rollback();
            committed = client.enqueue(tx, Task.of("order:confirm"), TaskOptions.defaults()).id();
            tx.commit();
            tx.setAutoCommit(true);
        }
        assertThat(inspector.task(rolledBack)).isEmpty();
        assertThat(inspector.task(committed)).isPresent();

        // A failed enqueue inside the transaction leaves the caller's transaction usable.
        try (Connection tx = callerConnection()) {
            tx.setAutoCommit(false);
            assertThatThrownBy(() -> client.enqueue(tx, Task.of("x"), TaskOptions.builder().taskId(committed).build()))
                    .isInstanceOf(TaskIdConflictException.class);
            String after = client.enqueue(tx, Task.of("order:confirm"), TaskOptions.defaults()).id();
            tx.commit();
            tx.setAutoCommit(true);
            assertThat(inspector.task(after)).isPresent();
        }
    }

    // ------------------------------------------------------------------ inspector

    @Test
    void inspectorPausesQueuesPagesTasksAndMovesThemBetweenStates() {
        for (int i = 0; i < 5; i++) {
            client.enqueue(Task.ofText("page", String.valueOf(i)), TaskOptions.builder().queue("paged").build());
        }
        List<TaskInfo> page0 = inspector.listTasks("paged", TaskState.PENDING, 0, 2);
        List<TaskInfo> page1 = inspector.listTasks("paged", TaskState.PENDING, 1, 2);
        List<TaskInfo> page2 = inspector.listTasks("paged", TaskState.PENDING, 2, 2);
        assertThat(page0).extracting(t -> t.task().payloadText()).containsExactly("0", "1");
        assertThat(page1).extracting(t -> t.task().payloadText()).containsExactly("2", "3");
        assertThat(page2).extracting(t -> t.task().payloadText()).containsExactly("4");

        TaskInfo future = client.enqueue(Task.of("future"), TaskOptions.builder().processIn(Duration.ofHours(1)).build());
        TaskInfo toArchive = client.enqueue(Task.of("archive-me"), TaskOptions.builder().queue("paused").build());
        TaskInfo toDelete = client.enqueue(Task.of("delete-me"), TaskOptions.builder().queue("paused").build());
        inspector.pauseQueue("paused");
        assertThat(inspector.queue("paused").paused()).isTrue();
        assertThat(inspector.archiveTask(toArchive.id())).isTrue();
        assertThatThrownBy(() -> inspector.archiveTask(toArchive.id())).isInstanceOf(TaskStateException.class);
        assertThat(inspector.deleteTask(toDelete.id())).isTrue();
        assertThat(inspector.deleteTask(toDelete.id())).isFalse();
        assertThat(inspector.runTask("no-such-task")).isFalse();

        List<String> ran = new CopyOnWriteArrayList<>();
        List<String> startedInPaused = new CopyOnWriteArrayList<>();
        CountDownLatch holdActive = new CountDownLatch(1);
        releases.add(holdActive::countDown);
        TaskServer server = start(server(TaskMux.builder()
                .handle("future", ctx -> ran.add(ctx.id()))
                .handle("archive-me", ctx -> startedInPaused.add(ctx.id()))
                .handle("page", ctx -> ran.add(ctx.id()))
                .handle("hold", ctx -> holdActive.await())
                .build()).queue("default", 1).queue("paged", 1).queue("paused", 1));
        await().atMost(PATIENCE).until(() -> ran.size() == 5);
        assertThat(inspector.queue("default").scheduled()).isEqualTo(1);

        assertThat(inspector.runTask(future.id())).isTrue();
        await().atMost(PATIENCE).until(() -> ran.contains(future.id()));

        // Run the archived task while its queue is paused: it becomes pending but is not claimed.
        assertThat(inspector.runAllArchived("paused")).isEqualTo(1);
        assertThat(inspector.queue("paused").pending()).isEqualTo(1);
        TaskInfo hold = client.enqueue(Task.of("hold"));
        awaitState(hold.id(), TaskState.ACTIVE);
        assertThat(startedInPaused).isEmpty();
        assertThatThrownBy(() -> inspector.deleteTask(hold.id())).isInstanceOf(TaskStateException.class);

        // The server reports its running tasks with each heartbeat.
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(inspector.servers()).anySatisfy(s -> {
            assertThat(s.id()).isEqualTo(server.id());
            assertThat(s.queues()).containsKeys("default", "paged", "paused");
            assertThat(s.workers()).extracting(w -> w.taskId()).contains(hold.id());
        }));

        inspector.unpauseQueue("paused");
        await().atMost(PATIENCE).until(() -> startedInPaused.contains(toArchive.id()));
        assertThat(inspector.queues()).extracting(QueueInfo::name).contains("default", "paged", "paused");
        assertThat(inspector.history("default", 7)).hasSize(7).last().satisfies(d -> assertThat(d.day()).isEqualTo(
                java.time.LocalDate.now(java.time.ZoneOffset.UTC)));
    }

    @Test
    void inspectorPagesAreZeroBasedEndEmptyAndRejectBadArguments() {
        for (int i = 0; i < 3; i++) {
            client.enqueue(Task.ofText("page", String.valueOf(i)), TaskOptions.builder().queue("pages").build());
        }
        assertThat(inspector.listTasks("pages", TaskState.PENDING, 0, 2)).extracting(t -> t.task().payloadText())
                .containsExactly("0", "1");
        assertThat(inspector.listTasks("pages", TaskState.PENDING, 1, 2)).extracting(t -> t.task().payloadText())
                .containsExactly("2");
        assertThat(inspector.listTasks("pages", TaskState.PENDING, 2, 2)).isEmpty();
        assertThat(inspector.listTasks("pages", TaskState.PENDING, Integer.MAX_VALUE, TaskInspector.MAX_PAGE_SIZE)).isEmpty();
        assertThat(inspector.listTasks("pages", TaskState.ARCHIVED, 0, 2)).isEmpty();
        assertThatThrownBy(() -> inspector.listTasks("pages", TaskState.PENDING, -1, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("page must be >= 0, but was -1");
        assertThatThrownBy(() -> inspector.listTasks("pages", TaskState.PENDING, 0, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("pageSize must be between 1 and " + TaskInspector.MAX_PAGE_SIZE + ", but was 0");
        assertThatThrownBy(() -> inspector.listTasks("pages", TaskState.PENDING, 0, TaskInspector.MAX_PAGE_SIZE + 1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void queueSizeCountsEveryStateButCompleted() {
        TaskOptions kept = TaskOptions.builder().queue("sizes").retention(Duration.ofHours(1)).build();
        TaskInfo done = client.enqueue(Task.of("size:done"), kept);
        TaskInfo running = client.enqueue(Task.of("size:running"), kept);
        Instant now = Instant.now();
        Map<String, String> tokens = new ConcurrentHashMap<>();
        store.claim("sizes", 2, "conformance", now, Duration.ofMinutes(1)).forEach(c -> tokens.put(c.info().id(), c.leaseToken()));
        assertThat(store.complete(new Lease(done.id(), tokens.get(done.id())), now)).isTrue();
        client.enqueue(Task.of("size:pending"), kept);
        client.enqueue(Task.of("size:scheduled"), TaskOptions.builder().queue("sizes").processIn(Duration.ofHours(1)).build());
        TaskInfo archived = client.enqueue(Task.of("size:archived"), kept);
        assertThat(inspector.archiveTask(archived.id())).isTrue();

        QueueInfo q = inspector.queue("sizes");
        assertThat(List.of(q.pending(), q.active(), q.scheduled(), q.retry(), q.archived(), q.completed()))
                .containsExactly(1L, 1L, 1L, 0L, 1L, 1L);
        assertThat(q.size()).isEqualTo(4);
        for (TaskState state : TaskState.values()) {
            assertThat(inspector.listTasks("sizes", state, 0, 10)).as("%s tasks", state).hasSize((int) q.count(state));
        }
        assertThat(inspector.listTasks("sizes", TaskState.ACTIVE, 0, 10)).extracting(TaskInfo::id).containsExactly(running.id());
        assertThat(inspector.deleteTask(done.id())).isTrue();
        assertThat(inspector.queue("sizes").completed()).isZero();
        assertThat(inspector.queues()).extracting(QueueInfo::name).contains("sizes");
    }

    @Test
    void storesWithDifferentPrefixesInOneDatabaseNeverSeeEachOthersTasks() throws Exception {
        Map<String, String> otherConfig = otherPrefixConfig(config);
        assumeTrue(otherConfig != null, getClass().getSimpleName() + " has no second prefix to test");
        toClose.add(() -> dropStore(otherConfig));
        TaskStore other = storeFactory().getConstructor().newInstance().open(otherConfig);
        toClose.add(other);
        TaskInspector otherInspector = TaskInspector.create(other);
        TaskInfo mine = client.enqueue(Task.of("mine"), TaskOptions.builder().queue("shared").build());
        TaskInfo theirs = TaskClient.create(other).enqueue(Task.of("theirs"), TaskOptions.builder().queue("shared").build());

        assertThat(inspector.task(theirs.id())).isEmpty();
        assertThat(otherInspector.task(mine.id())).isEmpty();
        assertThat(inspector.listTasks("shared", TaskState.PENDING, 0, 10)).extracting(TaskInfo::id).containsExactly(mine.id());
        assertThat(otherInspector.listTasks("shared", TaskState.PENDING, 0, 10)).extracting(TaskInfo::id)
                .containsExactly(theirs.id());
        inspector.pauseQueue("shared");
        assertThat(otherInspector.queue("shared").paused()).isFalse();

        List<String> ran = new CopyOnWriteArrayList<>();
        start(server(other, ctx -> ran.add(ctx.id())).queue("shared", 1));
        await().atMost(PATIENCE).until(() -> ran.contains(theirs.id()));
        assertThat(otherInspector.queue("shared").size()).isZero();
        assertThat(inspector.queue("shared").pending()).isEqualTo(1);
        assertThat(ran).containsExactly(theirs.id());
    }

    @Test
    void archivedTasksCanBeRunAgainOrDeletedInBulk() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ids.add(client.enqueue(Task.ofText("doomed", String.valueOf(i)), TaskOptions.builder().queue("bulk")
                    .processIn(Duration.ofHours(1)).unique(Duration.ofHours(1)).build()).id());
        }
        for (String id : ids) {
            assertThat(inspector.archiveTask(id)).isTrue();
        }
        assertThat(inspector.queue("bulk").archived()).isEqualTo(4);
        assertThat(inspector.listTasks("bulk", TaskState.ARCHIVED, 0, 10)).hasSize(4);

        assertThat(inspector.deleteAllArchived("bulk")).isEqualTo(4);
        assertThat(inspector.queue("bulk").archived()).isZero();
        // Deleting released the unique locks.
        client.enqueue(Task.ofText("doomed", "0"), TaskOptions.builder().queue("bulk").maxRetry(0).unique(Duration.ofHours(1)).build());

        List<Integer> attempts = new CopyOnWriteArrayList<>();
        AtomicBoolean fail = new AtomicBoolean(true);
        start(server(ctx -> {
            attempts.add(ctx.retried());
            if (fail.get()) {
                throw new IllegalStateException("nope");
            }
        }).queue("bulk", 1));
        await().atMost(PATIENCE).until(() -> inspector.queue("bulk").archived() == 1);
        fail.set(false);
        assertThat(inspector.runAllArchived("bulk")).isEqualTo(1);
        await().atMost(PATIENCE).until(() -> inspector.queue("bulk").size() == 0);
        assertThat(attempts).hasSize(2);
    }

    /** Guards against a store that returns the same task to two claimers. */
    @Test
    void concurrentServersNeverRunATaskTwice() {
        int n = 200;
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger duplicates = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            client.enqueue(Task.of("once"));
        }
        TaskHandler h = (TaskContext ctx) -> {
            if (!seen.add(ctx.id())) {
                duplicates.incrementAndGet();
            }
        };
        start(server(h));
        start(server(h));
        start(server(h));
        await().atMost(PATIENCE).until(() -> seen.size() == n);
        assertThat(duplicates).hasValue(0);
    }
}
