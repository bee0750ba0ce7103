package io.courier.tasks;

import io.courier.Codec;
import io.courier.JsonCodec;
import io.courier.NonRetryableException;
import io.courier.spi.ConsumerThreads;
import io.courier.tasks.internal.DueForwarder;
import io.courier.tasks.internal.FetchGate;
import io.courier.tasks.internal.QueueSelector;
import io.courier.tasks.internal.ServerWakeUp;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TaskStore;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Processes tasks (Asynq's {@code server.go}): fetches from weighted or strictly ordered queues,
 * runs handlers on up to {@code concurrency} threads, retries with backoff, enforces timeouts and
 * deadlines, keeps leases alive with heartbeats, recovers tasks of dead workers, and shuts down
 * gracefully.
 *
 * <pre>{@code
 * TaskMux mux = TaskMux.builder()
 *     .handle("email:deliver", Email.class, (ctx, email) -> mailer.send(email))
 *     .build();
 * try (TaskServer server = TaskServer.builder(store)
 *         .concurrency(10)
 *         .queue("critical", 6).queue("default", 3).queue("low", 1)
 *         .handler(mux)
 *         .build()
 *         .start()) {
 *     awaitShutdownSignal();
 * }   // close(): stop fetching, wait for running tasks, return unfinished ones to PENDING
 * }</pre>
 *
 * <p><b>Outcomes.</b> See {@link TaskHandler}. A failed attempt is retried after the
 * {@link RetryDelay} while {@code retried < maxRetry}, and archived after that. Failures for which
 * the {@link Builder#isFailure(Predicate) isFailure} predicate says false, and
 * {@link RetryLaterException}, are retried without consuming the budget.
 *
 * <p><b>Time limits.</b> Each attempt is cut off at the earlier of its start plus the task's
 * timeout and the task's deadline (a task with neither gets the server's default timeout): the
 * handler thread is interrupted and the attempt is settled as failed right then, even if the
 * handler ignores the interrupt (its thread is then left to finish on its own and its result is
 * discarded, so a handler that never yields can exceed {@code concurrency} threads). A timeout is a
 * normal failure; a passed deadline archives the task, since no retry can meet it.
 *
 * <p><b>Waking up.</b> Idle fetchers wait for the store's announcement of new tasks
 * ({@link TaskArrivals}, which the SQL and Redis stores implement) and start a task within
 * milliseconds of its enqueue, in this process or another; one announcement wakes one fetcher per
 * fetch batch of tasks, never all of them. A forwarder thread moves due scheduled and retry tasks to
 * pending when the earliest one it knows of comes due (from the store, its own retries and the
 * announcements). The poll interval is the fallback for lost announcements and for stores that make
 * none.
 *
 * <p><b>Leases.</b> A claimed task is leased to this server for {@code leaseDuration} and the lease
 * is renewed every {@code heartbeatInterval}. When a server dies its leases run out and any server
 * serving the queue recovers the tasks on its next recovery pass: the lost attempt counts as a
 * failure (one retry consumed, archived if none were left) and the task is due again at once. A
 * server that finds it lost a lease (it could not heartbeat in time) interrupts that handler and
 * discards its result.
 *
 * <p><b>Shutdown.</b> {@link #close()} stops fetching, waits up to {@code shutdownTimeout} for
 * running handlers, then interrupts the rest and returns their tasks to PENDING without counting a
 * retry. It does not close the store.
 *
 * <p>Thread-safe. A server is started once and closed once; it registers no shutdown hooks.
 */
public final class TaskServer implements AutoCloseable {

    /** Default lease on a running task. */
    public static final Duration DEFAULT_LEASE_DURATION = Duration.ofSeconds(30);
    /**
     * Default longest wait between fetches when every queue was empty, and between passes that move
     * due scheduled and retry tasks to pending: the fallback for stores that do not announce new tasks
     * and for announcements that were lost.
     */
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);
    /** Default interval between recovery passes (expired leases, expired completed tasks). */
    public static final Duration DEFAULT_RECOVERY_INTERVAL = Duration.ofSeconds(5);
    /** Default time close waits for running handlers. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);
    /** Per-attempt limit for tasks with neither timeout nor deadline (Asynq's). */
    public static final Duration DEFAULT_TASK_TIMEOUT = Duration.ofMinutes(30);
    /** Default largest number of tasks claimed in one fetch (one store call per queue drawn). */
    public static final int DEFAULT_FETCH_BATCH = 16;
    /** Default upper bound of fetcher threads (the default is the smaller of this and the concurrency). */
    public static final int DEFAULT_MAX_FETCHERS = 4;

    private static final Logger log = LoggerFactory.getLogger(TaskServer.class);
    private static final int MAX_ERROR_LENGTH = 4000;
    /** Most completions written in one store call. */
    private static final int MAX_COMPLETION_BATCH = 256;
    /** Attempts at writing one batch of completions before its tasks are left to lease recovery. */
    private static final int COMPLETION_ATTEMPTS = 3;
    /** Pause after the first failed attempt at writing completions; the second pause is twice as long. */
    private static final Duration COMPLETION_RETRY_DELAY = Duration.ofMillis(200);
    /** Default largest result a handler may write ({@link TaskContext#writeResult(byte[])}): 1 MiB. */
    public static final int DEFAULT_MAX_RESULT_BYTES = 1 << 20;
    /** Largest accepted {@link Builder#maxResultBytes(int)}: 64 MiB. */
    public static final int MAX_RESULT_BYTES_LIMIT = 64 << 20;
    static final String LEASE_EXPIRED_ERROR = describe(new LeaseExpiredException(
            "lease expired: the worker running the task stopped renewing its lease (crashed, killed or cut off)"));

    private enum Status { NEW, RUNNING, STOPPING, STOPPED }

    private final TaskStore store;
    private final TaskHandler handler;
    private final int concurrency;
    private final Map<String, Integer> queues;
    private final boolean strictPriority;
    private final RetryDelay retryDelay;
    private final Predicate<Throwable> isFailure;
    private final Duration leaseDuration;
    private final Duration heartbeatInterval;
    private final Duration pollInterval;
    private final Duration recoveryInterval;
    private final Duration shutdownTimeout;
    private final Duration defaultTimeout;
    private final int fetchBatch;
    private final int fetchers;
    private final Clock clock;
    private final Codec codec;
    private final int maxResultBytes;
    private final String serverId;
    private final String host = host();

    private final AtomicReference<Status> status = new AtomicReference<>(Status.NEW);
    private final Semaphore slots;
    private final Map<String, Execution> inflight = new ConcurrentHashMap<>();
    private final Object inflightMonitor = new Object();
    private final FetchGate gate;
    private final Map<StatsKey, long[]> stats = new ConcurrentHashMap<>();
    private final QueueSelector selector;
    private final java.util.Queue<Execution> completions = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final AtomicBoolean completing = new AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicInteger awaitingCompletion = new java.util.concurrent.atomic.AtomicInteger();
    private volatile Instant startedAt;
    private ExecutorService handlers;
    private ScheduledThreadPoolExecutor maintenance;
    private ScheduledThreadPoolExecutor watchdogs;
    private DueForwarder forwarder;
    private TaskArrivals.Subscription arrivals;
    private final List<Thread> fetcherThreads = new ArrayList<>();

    private TaskServer(Builder b) {
        this.store = b.store;
        this.handler = b.handler;
        this.concurrency = b.concurrency;
        this.queues = Map.copyOf(b.queues);
        this.strictPriority = b.strictPriority;
        this.retryDelay = b.retryDelay;
        this.isFailure = b.isFailure;
        this.leaseDuration = b.leaseDuration;
        this.heartbeatInterval = b.heartbeatInterval != null ? b.heartbeatInterval : b.leaseDuration.dividedBy(3);
        this.pollInterval = b.pollInterval;
        this.recoveryInterval = b.recoveryInterval;
        this.shutdownTimeout = b.shutdownTimeout;
        this.defaultTimeout = b.defaultTimeout;
        this.fetchBatch = b.fetchBatch;
        this.fetchers = b.fetchers != null ? b.fetchers
                : b.strictPriority ? 1 : Math.min(b.concurrency, DEFAULT_MAX_FETCHERS);
        this.clock = b.clock;
        this.codec = b.codec;
        this.maxResultBytes = b.maxResultBytes;
        this.serverId = b.serverId != null ? b.serverId : defaultServerId();
        this.slots = new Semaphore(concurrency);
        this.selector = new QueueSelector(b.queues, strictPriority, new Random());
        this.gate = new FetchGate(fetchers, fetchBatch);
    }

    /** A builder for a server over {@code store}. */
    public static Builder builder(TaskStore store) {
        return new Builder(store);
    }

    /**
     * Starts fetching and processing, and registers this server (visible to
     * {@link TaskInspector#servers()}).
     *
     * @return this server
     * @throws IllegalStateException if it was started before
     */
    public TaskServer start() {
        if (!status.compareAndSet(Status.NEW, Status.RUNNING)) {
            throw new IllegalStateException("task server " + serverId + " was already started");
        }
        startedAt = clock.instant();
        String prefix = "courier-tasks-" + shortId();
        handlers = Executors.newCachedThreadPool(ConsumerThreads.factory(prefix + "-worker"));
        maintenance = scheduler(prefix + "-maintenance");
        watchdogs = scheduler(prefix + "-watchdog");
        // Before anything that may record a retry or recover a task, which tells the forwarder.
        forwarder = new DueForwarder(this::forwardDue, pollInterval, clock, ConsumerThreads.factory(prefix + "-forwarder", false));
        arrivals = subscribeArrivals();
        safely("register server", this::heartbeat);
        maintenance.scheduleWithFixedDelay(() -> safely("heartbeat", this::heartbeat),
                heartbeatInterval.toNanos(), heartbeatInterval.toNanos(), TimeUnit.NANOSECONDS);
        maintenance.scheduleWithFixedDelay(() -> safely("recovery", this::recover),
                0, recoveryInterval.toNanos(), TimeUnit.NANOSECONDS);
        forwarder.start();
        java.util.concurrent.ThreadFactory fetcherFactory = ConsumerThreads.factory(prefix + "-fetcher", false);
        for (int i = 0; i < fetchers; i++) {
            Thread t = fetcherFactory.newThread(this::fetchLoop);
            fetcherThreads.add(t);
            t.start();
        }
        log.info("task server {} started on {} store: concurrency {}, queues {}{}", serverId, store.name(),
                concurrency, queues, strictPriority ? " (strict priority)" : "");
        return this;
    }

    /** This server's id, as shown by the inspector. */
    public String id() {
        return serverId;
    }

    /** True between {@link #start()} and the beginning of {@link #close()}. */
    public boolean isRunning() {
        return status.get() == Status.RUNNING;
    }

    /** How many tasks this server is running now. */
    public int activeCount() {
        return inflight.size();
    }

    /**
     * Shuts down gracefully: stops fetching, waits up to the shutdown timeout for running handlers,
     * interrupts the rest and returns their tasks to PENDING (no retry counted), flushes counters
     * and unregisters. Idempotent; does not close the store.
     */
    @Override
    public void close() {
        if (status.compareAndSet(Status.NEW, Status.STOPPED)) {
            return;
        }
        if (!status.compareAndSet(Status.RUNNING, Status.STOPPING)) {
            return;
        }
        // Fetchers are woken, not interrupted: an interrupt in the middle of a claim could leave
        // tasks claimed in the store but never run (until their lease expired).
        gate.close();
        if (arrivals != null) {
            arrivals.close();
        }
        forwarder.close();
        fetcherThreads.forEach(TaskServer::joinQuietly);
        long deadline = System.nanoTime() + shutdownTimeout.toNanos();
        synchronized (inflightMonitor) {
            long left;
            while (!inflight.isEmpty() && (left = deadline - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(inflightMonitor, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        for (Execution e : List.copyOf(inflight.values())) {
            if (e.settle()) {
                e.interrupt();
                boolean requeued = false;
                try {
                    requeued = store.requeue(e.lease);
                } catch (RuntimeException ex) {
                    log.warn("could not return task {} to pending on shutdown; it is recovered when its lease expires",
                            e.lease.taskId(), ex);
                }
                log.info("shutdown: task {} did not finish within {}; {}", e.lease.taskId(), shutdownTimeout,
                        requeued ? "returned to pending" : "its lease had been lost already");
                done(e);
            }
        }
        watchdogs.shutdownNow();
        maintenance.shutdown();   // no interrupt: let a running heartbeat or recovery pass finish its store call
        awaitQuietly(maintenance);
        safely("flush counters", this::flushStats);
        safely("unregister server", () -> store.removeServer(serverId));
        handlers.shutdown();
        status.set(Status.STOPPED);
        log.info("task server {} stopped", serverId);
    }

    // ---------------------------------------------------------------- fetching

    private void fetchLoop() {
        while (status.get() == Status.RUNNING) {
            try {
                if (!slots.tryAcquire(pollInterval.toNanos(), TimeUnit.NANOSECONDS)) {
                    continue;   // every worker busy; look at the status again
                }
                int free = 1 + slots.drainPermits();
                int batch = Math.min(free, fetchBatch);
                if (free > batch) {
                    slots.release(free - batch);
                }
                List<ClaimedTask> claimed;
                try {
                    gate.fetching(batch);
                    claimed = fetch(batch);
                } catch (RuntimeException e) {
                    slots.release(batch);
                    log.warn("task server {}: fetching failed; retrying in {}", serverId, pollInterval, e);
                    pause();
                    continue;
                }
                if (claimed.size() < batch) {
                    slots.release(batch - claimed.size());
                }
                if (status.get() != Status.RUNNING) {
                    giveBack(claimed);
                    return;
                }
                for (ClaimedTask task : claimed) {
                    dispatch(task);
                }
                if (claimed.isEmpty()) {
                    pause();
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Shutdown began during a claim: return what was claimed, untouched and uncounted. */
    private void giveBack(List<ClaimedTask> claimed) {
        for (ClaimedTask task : claimed) {
            safely("return task " + task.info().id() + " claimed during shutdown",
                    () -> store.requeue(new Lease(task.info().id(), task.leaseToken())));
            slots.release();
        }
    }

    /**
     * Claims up to {@code batch} tasks: the selector draws the queue of every slot by weight, each drawn
     * queue is claimed once for its slots, and the slots of a queue that had fewer tasks go to the others
     * in the selector's order.
     */
    private List<ClaimedTask> fetch(int batch) {
        List<ClaimedTask> result = new ArrayList<>(batch);
        Set<String> dry = new java.util.HashSet<>();
        for (Map.Entry<String, Integer> slots : selector.plan(batch).entrySet()) {
            if (status.get() != Status.RUNNING) {
                return result;
            }
            claimInto(result, slots.getKey(), slots.getValue(), dry);
        }
        for (String queue : selector.nextOrder()) {
            if (result.size() >= batch || status.get() != Status.RUNNING) {
                break;
            }
            if (!dry.contains(queue)) {
                claimInto(result, queue, batch - result.size(), dry);
            }
        }
        return result;
    }

    private void claimInto(List<ClaimedTask> result, String queue, int max, Set<String> dry) {
        List<ClaimedTask> got = store.claim(queue, max, serverId, clock.instant(), leaseDuration);
        result.addAll(got);
        if (got.size() < max) {
            dry.add(queue);   // empty or paused for now: its slots go to the other queues
        }
    }

    /** Waits until tasks are announced or the poll interval passes (see {@link FetchGate}). */
    private void pause() throws InterruptedException {
        if (status.get() == Status.RUNNING) {
            gate.await(pollInterval);
        }
    }

    /**
     * Listens for the store's announcements of new tasks when it makes them ({@link TaskArrivals}):
     * idle fetchers then start a task within milliseconds of its enqueue, and the poll interval is
     * only the fallback. Null when the store cannot, or its listening failed (polling then).
     */
    private TaskArrivals.Subscription subscribeArrivals() {
        if (!(store instanceof TaskArrivals a)) {
            return null;
        }
        try {
            return a.subscribeArrivals(selector.queues(), new ServerWakeUp(gate, forwarder));
        } catch (RuntimeException e) {
            log.warn("task server {}: cannot listen for new tasks on the {} store; polling every {} instead",
                    serverId, store.name(), pollInterval, e);
            return null;
        }
    }

    /**
     * One pass of the {@link DueForwarder}: moves due scheduled and retry tasks to pending and wakes
     * fetchers for them (the store announces them itself when it can), then asks the store when the
     * next one is due.
     */
    private Optional<Instant> forwardDue(Instant now) {
        int forwarded = store.forwardDue(selector.queues(), now);
        if (forwarded > 0 && arrivals == null) {
            gate.ready(forwarded);
        }
        return store instanceof TaskArrivals a ? a.nextDueAt(selector.queues()) : Optional.empty();
    }

    /** Records a retry due at {@code processAt}, and tells the forwarder when that is. */
    private boolean retry(Execution e, Instant now, Instant processAt, String error, boolean countRetry) {
        boolean applied = store.retry(e.lease, now, processAt, error, countRetry);
        if (applied) {
            forwarder.dueAt(processAt);
        }
        return applied;
    }

    // ---------------------------------------------------------------- running

    private void dispatch(ClaimedTask claimed) {
        TaskInfo info = claimed.info();
        Instant start = clock.instant();
        Instant cutOff = attemptDeadline(info, start);
        Execution e = new Execution(new Lease(info.id(), claimed.leaseToken()), start,
                self -> new TaskContext(info, cutOff, codec, result -> writeResult(self, result)));
        inflight.put(info.id(), e);
        try {
            handlers.execute(() -> run(e));
        } catch (RuntimeException rejected) {
            // Only while shutting down: give the task back untouched.
            if (e.settle()) {
                safely("requeue rejected task", () -> store.requeue(e.lease));
                done(e);
            }
        }
    }

    /** Writes a handler's result under its attempt's lease; false once the attempt is settled or its lease lost. */
    private boolean writeResult(Execution e, byte[] result) {
        if (result.length > maxResultBytes) {
            throw new IllegalArgumentException("result of task " + e.lease.taskId() + " must be at most "
                    + maxResultBytes + " bytes (maxResultBytes), but was " + result.length);
        }
        return !e.settled.get() && store.writeResult(e.lease, result);
    }

    private Instant attemptDeadline(TaskInfo info, Instant start) {
        Instant byTimeout = info.timeout().map(start::plus)
                .orElseGet(() -> info.deadline().isPresent() ? Instant.MAX : start.plus(defaultTimeout));
        Instant byDeadline = info.deadline().orElse(Instant.MAX);
        return byTimeout.isBefore(byDeadline) ? byTimeout : byDeadline;
    }

    private void run(Execution e) {
        TaskInfo info = e.context.info();
        if (info.deadline().isPresent() && !clock.instant().isBefore(info.deadline().get())) {
            if (e.settle()) {
                fail(e, new TaskTimeoutException("deadline " + info.deadline().get()
                        + " passed before the task could start", true));
            }
            return;
        }
        e.begin(Thread.currentThread());
        long delayNanos = Duration.between(clock.instant(), e.context.deadline()).toNanos();
        if (delayNanos < Long.MAX_VALUE / 2) {
            e.watchdog = watchdogs.schedule(() -> timeOut(e), Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
        }
        Throwable failure = null;
        try {
            handler.handle(e.context);
        } catch (Throwable t) {
            failure = t;
        }
        e.end();
        if (!e.settle()) {
            return;   // timed out, lost its lease or was requeued by shutdown meanwhile
        }
        ScheduledFuture<?> w = e.watchdog;
        if (w != null) {
            w.cancel(false);
        }
        if (failure == null) {
            succeed(e);
        } else {
            fail(e, failure);
        }
    }

    private void timeOut(Execution e) {
        if (!e.settle()) {
            return;
        }
        e.interrupt();
        TaskInfo info = e.context.info();
        boolean deadline = info.deadline().isPresent() && !e.context.deadline().isBefore(info.deadline().get());
        String message = deadline
                ? "deadline " + info.deadline().get() + " exceeded; the handler was interrupted"
                : "attempt timed out after " + info.timeout().orElse(defaultTimeout) + "; the handler was interrupted";
        fail(e, new TaskTimeoutException(message, deadline));
    }

    /**
     * Queues the completion and writes it together with any others that finished meanwhile (group
     * commit): the first handler thread to find no write in flight writes everything queued, in one
     * {@link TaskStore#completeAll} call, until the queue is empty; the others return at once. A lone
     * completion is written at once by its own thread; under load one transaction completes many
     * tasks.
     *
     * <p>The worker slot is freed at once, so the next task can be fetched while the completion is
     * written, unless {@code concurrency} completions already wait to be written: then it is freed
     * when its own is written, which holds fetching back while the store falls behind.
     */
    private void succeed(Execution e) {
        if (awaitingCompletion.incrementAndGet() <= concurrency) {
            e.slotFreedEarly = true;
            slots.release();
        }
        completions.add(e);
        while (!completions.isEmpty() && completing.compareAndSet(false, true)) {
            try {
                List<Execution> batch = new ArrayList<>();
                Execution next;
                while (batch.size() < MAX_COMPLETION_BATCH && (next = completions.poll()) != null) {
                    batch.add(next);
                }
                if (!batch.isEmpty()) {
                    completeAll(batch);
                }
            } finally {
                completing.set(false);
            }
        }
    }

    /**
     * Writes a batch of completions. A failed write is tried again ({@value #COMPLETION_ATTEMPTS}
     * attempts, {@link #COMPLETION_RETRY_DELAY} apart, growing): a completion is not given up on a
     * short database hiccup. If every attempt fails the tasks stay ACTIVE under their lease, which
     * is no longer renewed, so they are recovered and run again when it expires: never lost, at worst
     * run twice, as at-least-once promises. A write that committed although its reply was lost is
     * harmless to repeat: its tasks come back as stale leases.
     */
    private void completeAll(List<Execution> batch) {
        try {
            List<Lease> leases = new ArrayList<>(batch.size());
            for (Execution e : batch) {
                leases.add(e.lease);
            }
            Set<String> lost = null;
            RuntimeException failure = null;
            for (int attempt = 1; attempt <= COMPLETION_ATTEMPTS && lost == null; attempt++) {
                try {
                    lost = store.completeAll(leases, clock.instant());
                } catch (RuntimeException ex) {
                    if (failure == null) {
                        failure = ex;
                    } else {
                        failure.addSuppressed(ex);
                    }
                    if (attempt < COMPLETION_ATTEMPTS && !pauseBeforeRetry(COMPLETION_RETRY_DELAY.multipliedBy(attempt))) {
                        break;
                    }
                }
            }
            if (lost == null) {
                for (Execution e : batch) {
                    log.error("task {} finished but could not be marked completed; it runs again after its lease expires",
                            e.lease.taskId(), failure);
                }
                return;
            }
            if (failure != null) {
                log.warn("{} completion(s) written after a failed attempt", batch.size(), failure);
            }
            for (Execution e : batch) {
                if (lost.contains(e.lease.taskId())) {
                    log.warn("task {} finished but its lease had been lost; the result is discarded", e.lease.taskId());
                }
                count(e, false);
            }
        } finally {
            awaitingCompletion.addAndGet(-batch.size());
            batch.forEach(this::done);
        }
    }

    /** Sleeps before another attempt at a write; false if interrupted (the interrupt is kept). */
    private static boolean pauseBeforeRetry(Duration delay) {
        try {
            Thread.sleep(delay.toMillis());
            return true;
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void fail(Execution e, Throwable error) {
        TaskInfo info = e.context.info();
        Instant now = clock.instant();
        String message = describe(error);
        try {
            boolean applied;
            if (error instanceof RetryLaterException later) {
                applied = retry(e, now, now.plus(later.delay()), message, false);
                count(e, false);
            } else if (error instanceof NonRetryableException
                    || error instanceof TaskTimeoutException t && t.deadlineExceeded()) {
                applied = store.archive(e.lease, now, message);
                count(e, true);
            } else if (!safeIsFailure(error)) {
                applied = retry(e, now, now.plus(delay(info.retried() + 1, error, info)), message, false);
                count(e, false);
            } else if (info.retried() >= info.maxRetry()) {
                applied = store.archive(e.lease, now, message);
                count(e, true);
            } else {
                applied = retry(e, now, now.plus(delay(info.retried() + 1, error, info)), message, true);
                count(e, true);
            }
            if (!applied) {
                log.warn("task {} failed but its lease had been lost; the outcome is discarded", info.id());
            } else if (log.isDebugEnabled()) {
                log.debug("task {} ({}) failed: {}", info.id(), info.type(), message);
            }
        } catch (RuntimeException ex) {
            log.error("task {} failed and the failure could not be recorded; it runs again after its lease expires",
                    info.id(), ex);
        } finally {
            done(e);
        }
    }

    private boolean safeIsFailure(Throwable error) {
        try {
            return isFailure.test(error);
        } catch (RuntimeException ex) {
            log.warn("the isFailure predicate threw; counting the error as a failure", ex);
            return true;
        }
    }

    private Duration delay(int retry, Throwable error, TaskInfo info) {
        try {
            Duration d = retryDelay.delay(retry, error, info);
            return d == null || d.isNegative() ? Duration.ZERO : d;
        } catch (RuntimeException ex) {
            log.warn("the retry delay function threw; retrying task {} after {}", info.id(), pollInterval, ex);
            return pollInterval;
        }
    }

    private void done(Execution e) {
        inflight.remove(e.lease.taskId(), e);
        if (!e.slotFreedEarly) {
            slots.release();
        }
        synchronized (inflightMonitor) {
            inflightMonitor.notifyAll();
        }
    }

    /**
     * The last error recorded for a failure: the exception's class name, then its message if it has
     * one (what {@link Throwable#toString()} gives, built here so that a class overriding
     * {@code toString()} still shows its name), at most {@value #MAX_ERROR_LENGTH} characters.
     */
    static String describe(Throwable error) {
        String message = error.getLocalizedMessage();
        String text = message == null ? error.getClass().getName() : error.getClass().getName() + ": " + message;
        return text.length() <= MAX_ERROR_LENGTH ? text : text.substring(0, MAX_ERROR_LENGTH) + "...";
    }

    // ---------------------------------------------------------------- maintenance

    private void heartbeat() {
        Instant now = clock.instant();
        // Settled attempts are being written (completed, retried, archived): their leases need no renewal.
        List<Execution> running = inflight.values().stream().filter(e -> !e.settled.get()).toList();
        if (!running.isEmpty()) {
            List<Lease> leases = new ArrayList<>(running.size());
            for (Execution e : running) {
                leases.add(e.lease);
            }
            Set<String> lost = store.renewLeases(leases, now.plus(leaseDuration));
            for (Execution e : running) {
                if (lost.contains(e.lease.taskId()) && e.settle()) {
                    log.warn("task {} lost its lease (renewal came too late); interrupting its handler", e.lease.taskId());
                    e.interrupt();
                    done(e);
                }
            }
        }
        List<WorkerInfo> workers = new ArrayList<>();
        for (Execution e : inflight.values()) {
            TaskInfo i = e.context.info();
            workers.add(new WorkerInfo(i.id(), i.type(), i.queue(), e.startedAt, e.context.deadline()));
        }
        Status s = status.get();
        if (s == Status.RUNNING || s == Status.STOPPING) {
            store.heartbeatServer(new ServerInfo(serverId, host, ProcessHandle.current().pid(), concurrency, queues,
                    strictPriority, s == Status.RUNNING ? "running" : "stopping", startedAt, now, workers),
                    now.plus(heartbeatInterval.multipliedBy(3)));
        }
        flushStats();
    }

    private void recover() {
        Instant now = clock.instant();
        for (String queue : selector.queues()) {
            int recovered = store.recoverExpiredLeases(List.of(queue), now, LEASE_EXPIRED_ERROR);
            if (recovered > 0) {
                forwarder.dueAt(now);   // recovered tasks are due again at once
                log.warn("task server {} recovered {} task(s) of queue '{}' whose worker stopped renewing its lease",
                        serverId, recovered, queue);
                record(queue, now, recovered, recovered);
            }
        }
        store.deleteExpiredCompleted(now);
    }

    private void count(Execution e, boolean failed) {
        record(e.context.queue(), clock.instant(), 1, failed ? 1 : 0);
    }

    private void record(String queue, Instant at, long processed, long failed) {
        stats.merge(new StatsKey(queue, LocalDate.ofInstant(at, ZoneOffset.UTC)), new long[] {processed, failed},
                (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]});
    }

    private void flushStats() {
        for (StatsKey key : List.copyOf(stats.keySet())) {
            long[] c = stats.remove(key);
            if (c == null || (c[0] == 0 && c[1] == 0)) {
                continue;
            }
            try {
                store.recordStats(key.queue, key.day, c[0], c[1]);
            } catch (RuntimeException ex) {
                stats.merge(key, c, (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]});   // keep for the next flush
                throw ex;
            }
        }
    }

    private void safely(String what, Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            log.warn("task server {}: {} failed", serverId, what, e);
        }
    }

    // ---------------------------------------------------------------- helpers

    private ScheduledThreadPoolExecutor scheduler(String name) {
        ScheduledThreadPoolExecutor s = new ScheduledThreadPoolExecutor(1, ConsumerThreads.factory(name, false));
        s.setRemoveOnCancelPolicy(true);
        s.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        return s;
    }

    private String shortId() {
        return serverId.length() <= 8 ? serverId : serverId.substring(serverId.length() - 8);
    }

    private static String defaultServerId() {
        return host() + ":" + ProcessHandle.current().pid() + ":" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            return "unknown-host";
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitQuietly(ScheduledThreadPoolExecutor s) {
        try {
            s.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private record StatsKey(String queue, LocalDate day) {
    }

    /** One attempt of one task: who settles it first (handler, watchdog, heartbeat, shutdown) wins. */
    private static final class Execution {
        final Lease lease;
        final TaskContext context;
        final Instant startedAt;
        final AtomicBoolean settled = new AtomicBoolean();
        volatile ScheduledFuture<?> watchdog;
        /** Set by the one thread that settled the attempt as a success, read by the one that calls done. */
        volatile boolean slotFreedEarly;
        private Thread thread;
        private boolean handlerReturned;

        /** {@code contextFor} makes the attempt's context, whose result writer needs this execution. */
        Execution(Lease lease, Instant startedAt, java.util.function.Function<Execution, TaskContext> contextFor) {
            this.lease = lease;
            this.startedAt = startedAt;
            this.context = contextFor.apply(this);
        }

        boolean settle() {
            return settled.compareAndSet(false, true);
        }

        synchronized void begin(Thread t) {
            thread = t;
        }

        /** Marks the handler as returned and clears an interrupt aimed at it, so the pool thread is clean. */
        void end() {
            synchronized (this) {
                handlerReturned = true;
            }
            Thread.interrupted();
        }

        /** Interrupts the handler thread, only while it is still inside this attempt's handler. */
        synchronized void interrupt() {
            if (thread != null && !handlerReturned) {
                thread.interrupt();
            }
        }
    }

    /**
     * Configures a {@link TaskServer}. Not thread-safe. Every setting has a documented default;
     * {@link #handler(TaskHandler)} is required.
     */
    public static final class Builder {
        private final TaskStore store;
        private TaskHandler handler;
        private int concurrency = Math.max(2, Runtime.getRuntime().availableProcessors());
        private final Map<String, Integer> queues = new LinkedHashMap<>();
        private boolean strictPriority;
        private RetryDelay retryDelay = RetryDelay.exponential();
        private Predicate<Throwable> isFailure = t -> true;
        private Duration leaseDuration = DEFAULT_LEASE_DURATION;
        private Duration heartbeatInterval;
        private Duration pollInterval = DEFAULT_POLL_INTERVAL;
        private Duration recoveryInterval = DEFAULT_RECOVERY_INTERVAL;
        private Duration shutdownTimeout = DEFAULT_SHUTDOWN_TIMEOUT;
        private Duration defaultTimeout = DEFAULT_TASK_TIMEOUT;
        private int fetchBatch = DEFAULT_FETCH_BATCH;
        private Integer fetchers;
        private Clock clock = Clock.systemUTC();
        private Codec codec = JsonCodec.defaults();
        private int maxResultBytes = DEFAULT_MAX_RESULT_BYTES;
        private String serverId;

        private Builder(TaskStore store) {
            this.store = Objects.requireNonNull(store, "store");
        }

        /** The handler for every task; usually a {@link TaskMux}. Required. */
        public Builder handler(TaskHandler handler) {
            this.handler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /** Tasks run at once (default: the number of processors, at least 2). */
        public Builder concurrency(int concurrency) {
            this.concurrency = concurrency;
            return this;
        }

        /**
         * Serves {@code queue} with {@code weight} (>= 1). Each worker slot's queue is chosen by weight:
         * with weights {@code critical 6, default 3, low 1}, while every queue has work, 6 of every 10
         * tasks started come from {@code critical}, 3 from {@code default} and 1 from {@code low}, in a
         * random order; a queue without work gives its slots to the others. Default: only
         * {@value TaskOptions#DEFAULT_QUEUE}, weight 1.
         */
        public Builder queue(String queue, int weight) {
            TaskOptions.requireQueueName(queue);
            if (weight < 1) {
                throw new IllegalArgumentException("weight of queue '" + queue + "' must be >= 1, but was " + weight);
            }
            queues.put(queue, weight);
            return this;
        }

        /** Serves every queue of the map with its weight; see {@link #queue(String, int)}. */
        public Builder queues(Map<String, Integer> weights) {
            weights.forEach(this::queue);
            return this;
        }

        /**
         * With {@code true} queues are served strictly by weight, highest first: a lower queue is
         * served only while every higher one is empty (default false: weighted random).
         */
        public Builder strictPriority(boolean strict) {
            this.strictPriority = strict;
            return this;
        }

        /** How long to wait before a retry (default {@link RetryDelay#exponential()}). */
        public Builder retryDelay(RetryDelay retryDelay) {
            this.retryDelay = Objects.requireNonNull(retryDelay, "retryDelay");
            return this;
        }

        /**
         * Which errors count against the retry budget (default: all). An error for which this
         * returns false is retried after the retry delay without consuming a retry and is not
         * counted as failed.
         */
        public Builder isFailure(Predicate<Throwable> isFailure) {
            this.isFailure = Objects.requireNonNull(isFailure, "isFailure");
            return this;
        }

        /** How long a claimed task stays leased without renewal (default 30 s). */
        public Builder leaseDuration(Duration leaseDuration) {
            this.leaseDuration = Objects.requireNonNull(leaseDuration, "leaseDuration");
            return this;
        }

        /** How often leases are renewed and the server reports itself (default a third of the lease). */
        public Builder heartbeatInterval(Duration heartbeatInterval) {
            this.heartbeatInterval = Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
            return this;
        }

        /**
         * The fallback poll (default 1 s): the longest an idle server waits before fetching again, and
         * before looking for due scheduled and retry tasks again. A store that announces new tasks
         * ({@link TaskArrivals}: the SQL and Redis stores) wakes an idle server as soon as a task is
         * enqueued, and the server wakes by itself when the earliest scheduled or retry task it knows
         * of comes due; the poll interval then only bounds how late a task starts when an
         * announcement was lost. With a store that does not announce, it bounds how late every task
         * enqueued into an idle server starts.
         */
        public Builder pollInterval(Duration pollInterval) {
            this.pollInterval = Objects.requireNonNull(pollInterval, "pollInterval");
            return this;
        }

        /** How often expired leases are recovered and expired completed tasks deleted (default 5 s). */
        public Builder recoveryInterval(Duration recoveryInterval) {
            this.recoveryInterval = Objects.requireNonNull(recoveryInterval, "recoveryInterval");
            return this;
        }

        /** How long close waits for running handlers before returning their tasks (default 10 s). */
        public Builder shutdownTimeout(Duration shutdownTimeout) {
            this.shutdownTimeout = Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
            return this;
        }

        /** The per-attempt limit for tasks with neither timeout nor deadline (default 30 min). */
        public Builder defaultTimeout(Duration defaultTimeout) {
            this.defaultTimeout = Objects.requireNonNull(defaultTimeout, "defaultTimeout");
            return this;
        }

        /**
         * Most tasks claimed in one fetch (default {@value TaskServer#DEFAULT_FETCH_BATCH}); never more than
         * free workers. A fetch makes one store call per queue its slots were drawn from.
         */
        public Builder fetchBatch(int fetchBatch) {
            this.fetchBatch = fetchBatch;
            return this;
        }

        /**
         * How many threads claim tasks in parallel (default: the smaller of the concurrency and
         * {@value TaskServer#DEFAULT_MAX_FETCHERS}; 1 with strict priority). Claims are short write
         * transactions; running a few at once lets the database commit them together instead of one
         * after another. With strict priority a single fetcher keeps the order exact: with several, one
         * fetcher may find a higher queue's last tasks locked by another fetcher's claim in progress
         * and take from a lower queue meanwhile.
         */
        public Builder fetchers(int fetchers) {
            this.fetchers = fetchers;
            return this;
        }

        /** The clock for leases, retries and timeouts (default UTC system clock). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The codec behind {@link TaskContext#payloadAs(Class)} (default JSON). */
        public Builder codec(Codec codec) {
            this.codec = Objects.requireNonNull(codec, "codec");
            return this;
        }

        /**
         * The largest result a handler may write with {@link TaskContext#writeResult(byte[])}, in bytes
         * (default {@value TaskServer#DEFAULT_MAX_RESULT_BYTES}, 1 MiB; at most
         * {@value TaskServer#MAX_RESULT_BYTES_LIMIT}). A larger one is refused with an
         * {@link IllegalArgumentException} in the handler. Results are stored with the task: keep
         * them small, and put large outputs elsewhere and the reference in the result.
         */
        public Builder maxResultBytes(int maxResultBytes) {
            this.maxResultBytes = maxResultBytes;
            return this;
        }

        /** A stable id for this server (default {@code host:pid:random}). */
        public Builder serverId(String serverId) {
            this.serverId = TaskOptions.requireTaskId(serverId);
            return this;
        }

        /**
         * Validates and builds (does not start).
         *
         * @throws IllegalArgumentException naming the first invalid setting
         * @throws IllegalStateException    if no handler was set
         */
        public TaskServer build() {
            if (handler == null) {
                throw new IllegalStateException("a handler is required: call handler(TaskHandler), e.g. with a TaskMux");
            }
            if (concurrency < 1) {
                throw new IllegalArgumentException("concurrency must be >= 1, but was " + concurrency);
            }
            if (fetchers != null && (fetchers < 1 || fetchers > concurrency)) {
                throw new IllegalArgumentException("fetchers must be between 1 and concurrency (" + concurrency
                        + "), but was " + fetchers);
            }
            if (maxResultBytes < 1 || maxResultBytes > MAX_RESULT_BYTES_LIMIT) {
                throw new IllegalArgumentException("maxResultBytes must be between 1 and " + MAX_RESULT_BYTES_LIMIT
                        + ", but was " + maxResultBytes);
            }
            if (fetchBatch < 1) {
                throw new IllegalArgumentException("fetchBatch must be >= 1, but was " + fetchBatch);
            }
            requirePositive(leaseDuration, "leaseDuration");
            requirePositive(pollInterval, "pollInterval");
            requirePositive(recoveryInterval, "recoveryInterval");
            requirePositive(defaultTimeout, "defaultTimeout");
            if (shutdownTimeout.isNegative()) {
                throw new IllegalArgumentException("shutdownTimeout must be >= 0, but was " + shutdownTimeout);
            }
            if (heartbeatInterval != null) {
                requirePositive(heartbeatInterval, "heartbeatInterval");
                if (heartbeatInterval.compareTo(leaseDuration) >= 0) {
                    throw new IllegalArgumentException("heartbeatInterval must be < leaseDuration (" + leaseDuration
                            + "), but was " + heartbeatInterval);
                }
            }
            if (queues.isEmpty()) {
                queues.put(TaskOptions.DEFAULT_QUEUE, 1);
            }
            return new TaskServer(this);
        }

        private static void requirePositive(Duration d, String what) {
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(what + " must be > 0, but was " + d);
            }
        }
    }
}
