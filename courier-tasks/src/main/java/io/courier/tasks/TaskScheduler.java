package io.courier.tasks;

import io.courier.spi.ConsumerThreads;
import io.courier.tasks.internal.NewTasks;
import io.courier.tasks.spi.PeriodicTick;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Enqueues periodic tasks (Asynq's {@code scheduler.go}): each registered entry has an id, a
 * {@link Schedule} (cron with time zone, or fixed interval) and the task to enqueue at every tick.
 *
 * <pre>{@code
 * try (TaskScheduler scheduler = TaskScheduler.builder(store)
 *         .register("nightly-report", Schedule.cron("0 2 * * *", ZoneId.of("Europe/Berlin")),
 *                 Task.of("report:nightly"), TaskOptions.builder().queue("low").build())
 *         .register("heartbeat-check", Schedule.every(Duration.ofMinutes(1)), Task.of("health:check"))
 *         .build()
 *         .start()) {
 *     ...
 * }
 * }</pre>
 *
 * <p><b>Exactly once per tick.</b> Run a scheduler in as many processes as you like (for
 * availability): every tick of an entry is enqueued once in total, because the store accepts one
 * task per entry id and tick, atomically with storing it, and rejects the others (they see
 * {@link Listener#onDuplicate}). The task id is {@code <entryId>:<tick epoch millis>}. Ticks are
 * computed from the schedule, so every process agrees on them.
 *
 * <p><b>Missed ticks</b> (no scheduler running, or the store down for longer than a tick) are not
 * caught up: a scheduler starts at the first tick after it starts, and a tick that cannot be
 * enqueued is retried every second until the next tick is due, then dropped.
 *
 * <p>A tick is enqueued when the scheduler's thread wakes for it, normally within milliseconds.
 * Thread-safe; {@link #close()} stops the thread (it does not close the store).
 */
public final class TaskScheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TaskScheduler.class);
    private static final Duration ERROR_RETRY = Duration.ofSeconds(1);

    /** Receives what the scheduler did; called on the scheduler thread, must not block. */
    public interface Listener {
        /** A tick was enqueued by this scheduler. */
        default void onEnqueued(String entryId, Instant tick, TaskInfo task) {
        }

        /** A tick had been enqueued already (by another scheduler). */
        default void onDuplicate(String entryId, Instant tick) {
        }

        /** Enqueueing a tick failed; it is retried until the next tick is due. */
        default void onError(String entryId, Instant tick, Exception error) {
        }
    }

    private final TaskStore store;
    private final Clock clock;
    private final Listener listener;
    private final List<Entry> entries;
    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Object monitor = new Object();
    private Thread thread;

    private TaskScheduler(Builder b) {
        this.store = b.store;
        this.clock = b.clock;
        this.listener = b.listener;
        this.entries = List.copyOf(b.entries.values());
    }

    /** A builder for a scheduler that enqueues into {@code store}. */
    public static Builder builder(TaskStore store) {
        return new Builder(store);
    }

    /**
     * Starts the scheduler thread; the first tick of each entry is the first one after now.
     *
     * @return this scheduler
     * @throws IllegalStateException if started before
     */
    public TaskScheduler start() {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("scheduler already started");
        }
        Instant now = clock.instant();
        for (Entry e : entries) {
            e.next = e.schedule.nextAfter(now).orElse(null);
        }
        thread = ConsumerThreads.factory("courier-task-scheduler", false).newThread(this::loop);
        thread.start();
        return this;
    }

    /** Stops the scheduler thread. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        synchronized (monitor) {
            monitor.notifyAll();
        }
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The next tick of an entry, empty when it has none or the scheduler is not started. */
    public Optional<Instant> nextTick(String entryId) {
        for (Entry e : entries) {
            if (e.id.equals(entryId)) {
                return Optional.ofNullable(e.next);
            }
        }
        return Optional.empty();
    }

    private void loop() {
        while (!closed.get()) {
            Instant now = clock.instant();
            Instant wake = null;
            for (Entry e : entries) {
                if (e.next == null) {
                    continue;
                }
                if (!now.isBefore(e.retryAt == null ? e.next : e.retryAt)) {
                    fire(e, now);
                }
                Instant due = e.retryAt != null ? e.retryAt : e.next;
                if (due != null && (wake == null || due.isBefore(wake))) {
                    wake = due;
                }
            }
            long waitMillis = wake == null ? 60_000 : Math.max(1, Duration.between(clock.instant(), wake).toMillis());
            synchronized (monitor) {
                if (closed.get()) {
                    return;
                }
                try {
                    TimeUnit.MILLISECONDS.timedWait(monitor, waitMillis);
                } catch (InterruptedException ex) {
                    return;
                }
            }
        }
    }

    private void fire(Entry e, Instant now) {
        Instant tick = e.next;
        try {
            TaskOptions opts = e.options.toBuilder().taskId(e.id + ":" + tick.toEpochMilli()).build();
            TaskInfo info = store.enqueue(NewTasks.resolve(e.task, opts, now, Optional.of(new PeriodicTick(e.id, tick))));
            listener(() -> listener.onEnqueued(e.id, tick, info));
            advance(e, tick);
        } catch (DuplicateTaskException | TaskIdConflictException dup) {
            listener(() -> listener.onDuplicate(e.id, tick));
            advance(e, tick);
        } catch (RuntimeException ex) {
            Optional<Instant> following = e.schedule.nextAfter(tick);
            log.warn("scheduler entry '{}': enqueueing tick {} failed", e.id, tick, ex);
            listener(() -> listener.onError(e.id, tick, ex));
            if (following.isPresent() && !now.isBefore(following.get())) {
                advance(e, tick);   // the next tick is due: drop this one
            } else {
                e.retryAt = now.plus(ERROR_RETRY);
            }
        }
    }

    private static void advance(Entry e, Instant tick) {
        e.retryAt = null;
        e.next = e.schedule.nextAfter(tick).orElse(null);
    }

    private static void listener(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException ex) {
            log.warn("scheduler listener threw", ex);
        }
    }

    private static final class Entry {
        final String id;
        final Schedule schedule;
        final Task task;
        final TaskOptions options;
        volatile Instant next;
        Instant retryAt;

        Entry(String id, Schedule schedule, Task task, TaskOptions options) {
            this.id = id;
            this.schedule = schedule;
            this.task = task;
            this.options = options;
        }
    }

    /** Configures a {@link TaskScheduler}. Not thread-safe. */
    public static final class Builder {
        private final TaskStore store;
        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private Clock clock = Clock.systemUTC();
        private Listener listener = new Listener() { };

        private Builder(TaskStore store) {
            this.store = Objects.requireNonNull(store, "store");
        }

        /** Registers an entry with {@link TaskOptions#defaults()}. */
        public Builder register(String entryId, Schedule schedule, Task task) {
            return register(entryId, schedule, task, TaskOptions.defaults());
        }

        /**
         * Registers an entry: at every tick of {@code schedule}, enqueue {@code task} with
         * {@code options}. Use the same id for the same entry in every process.
         *
         * @throws IllegalArgumentException if the id is invalid or taken, or the options set a task id
         *                                  (the scheduler derives it from the entry id and tick)
         */
        public Builder register(String entryId, Schedule schedule, Task task, TaskOptions options) {
            TaskOptions.requireTaskId(entryId);
            Objects.requireNonNull(schedule, "schedule");
            Objects.requireNonNull(task, "task");
            Objects.requireNonNull(options, "options");
            if (options.taskId().isPresent()) {
                throw new IllegalArgumentException("options for scheduler entry '" + entryId
                        + "' must not set a taskId; it is derived from the entry id and the tick");
            }
            if (entries.putIfAbsent(entryId, new Entry(entryId, schedule, task, options)) != null) {
                throw new IllegalArgumentException("scheduler entry '" + entryId + "' is registered already");
            }
            return this;
        }

        /** The clock that decides when ticks are due (default UTC system clock). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** A listener for enqueued, duplicate and failed ticks. */
        public Builder listener(Listener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Builds the scheduler (not started). */
        public TaskScheduler build() {
            return new TaskScheduler(this);
        }
    }
}
