package io.courier.tasks;

import io.courier.Codec;
import io.courier.JsonCodec;
import io.courier.spi.ConsumerThreads;
import io.courier.tasks.internal.DueForwarder;
import io.courier.tasks.internal.FetchGate;
import io.courier.tasks.internal.QueueSelector;
import io.courier.tasks.internal.ServerWakeUp;
import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TaskStore;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
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
 * <p><b>Parts.</b> Like Asynq's server, this class only wires and orders small parts, each with its
 * own unit test: fetcher threads claim tasks for free worker slots, each slot's queue chosen by weight
 * (a {@code Fetcher} with a {@link io.courier.tasks.internal.QueueSelector}); a {@code Processor} runs
 * and settles attempts, writing completions in batches ({@code Completions}); a {@code Heartbeater}
 * renews leases and reports the server; a {@code Recoverer} recovers expired leases and a
 * {@code Janitor} deletes expired completed tasks; the {@link io.courier.tasks.internal.DueForwarder}
 * moves due scheduled and retry tasks to pending. Periodic tasks are enqueued by a
 * {@link TaskScheduler}, which runs on its own.
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
    private final Workers workers;
    private final FetchGate gate;
    private final Counters counters = new Counters();
    private final QueueSelector selector;
    private final List<Thread> fetcherThreads = new ArrayList<>();
    private volatile Instant startedAt;
    private ExecutorService handlers;
    private ScheduledThreadPoolExecutor maintenance;
    private ScheduledThreadPoolExecutor watchdogs;
    private DueForwarder forwarder;
    private TaskArrivals.Subscription arrivals;
    private Processor processor;

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
        this.workers = new Workers(concurrency);
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
        processor = new Processor(store,
                new Processor.Settings(handler, retryDelay, isFailure, defaultTimeout, pollInterval, maxResultBytes, codec),
                workers, new Completions(store, workers, counters, clock, concurrency), counters, handlers, watchdogs,
                clock, forwarder::dueAt);
        Heartbeater heartbeater = new Heartbeater(store, workers, counters, clock, leaseDuration,
                heartbeatInterval.multipliedBy(3), this::report);
        Recoverer recoverer = new Recoverer(store, selector.queues(), counters, clock, forwarder::dueAt, serverId);
        Janitor janitor = new Janitor(store, clock);
        safely("register server", heartbeater::beat);
        maintenance.scheduleWithFixedDelay(() -> safely("heartbeat", heartbeater::beat),
                heartbeatInterval.toNanos(), heartbeatInterval.toNanos(), TimeUnit.NANOSECONDS);
        maintenance.scheduleWithFixedDelay(() -> {
            safely("recovery", recoverer::recover);
            safely("cleanup", janitor::clean);
        }, 0, recoveryInterval.toNanos(), TimeUnit.NANOSECONDS);
        forwarder.start();
        Fetcher fetcher = new Fetcher(store, selector, gate, workers, processor::dispatch, this::isRunning, serverId,
                clock, leaseDuration, pollInterval, fetchBatch);
        ThreadFactory fetcherFactory = ConsumerThreads.factory(prefix + "-fetcher", false);
        for (int i = 0; i < fetchers; i++) {
            Thread t = fetcherFactory.newThread(fetcher::loop);
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
        return workers.count();
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
        processor.stop(System.nanoTime() + shutdownTimeout.toNanos(), shutdownTimeout);
        watchdogs.shutdownNow();
        maintenance.shutdown();   // no interrupt: let a running heartbeat or recovery pass finish its store call
        awaitQuietly(maintenance);
        safely("flush counters", () -> counters.flushTo(store));
        safely("unregister server", () -> store.removeServer(serverId));
        handlers.shutdown();
        status.set(Status.STOPPED);
        log.info("task server {} stopped", serverId);
    }

    /** The report the {@link Heartbeater} writes; null once stopped. */
    private ServerInfo report(Instant now, List<WorkerInfo> running) {
        Status s = status.get();
        if (s != Status.RUNNING && s != Status.STOPPING) {
            return null;
        }
        return new ServerInfo(serverId, host, ProcessHandle.current().pid(), concurrency, queues, strictPriority,
                s == Status.RUNNING ? "running" : "stopping", startedAt, now, running);
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
