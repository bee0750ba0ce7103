package io.courier.tasks.internal;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A task server's forwarder (Asynq's {@code forwarder.go}): one thread that moves due scheduled and
 * retry tasks to pending. It runs a pass at start, then whenever the earliest known due time comes,
 * and at the latest one poll interval after the previous pass: the poll interval is only the fallback
 * for due times nobody told it about.
 *
 * <p>Due times come from the pass itself (the store's earliest SCHEDULED or RETRY task, when it can
 * tell) and from {@link #dueAt(Instant)}: the server's own retries and the store's announcements of
 * scheduled tasks. Only the earliest is kept; each pass learns the next one from the store. With a
 * store that cannot tell, a task scheduled by another process starts within one poll interval.
 *
 * <p>Thread-safe. Started once, closed once.
 */
public final class DueForwarder implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DueForwarder.class);

    /** One pass of forwarding. */
    @FunctionalInterface
    public interface Pass {
        /**
         * Forwards what is due at {@code now} (and wakes whoever should claim it).
         *
         * @return when the earliest task still waiting is due, if the store can tell; a time not
         *     after {@code now} (more was due than one pass takes) asks for another pass shortly
         */
        Optional<Instant> run(Instant now);
    }

    /**
     * Pause before another pass when the last one left due tasks behind: more than one pass takes, or
     * rows another transaction held locked. Short enough to work off a backlog at tens of thousands
     * of tasks per second, long enough not to spin on a locked row.
     */
    static final Duration AGAIN_AFTER = Duration.ofMillis(10);

    private final Pass pass;
    private final long pollNanos;
    private final Clock clock;
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** The earliest known due time, epoch millis; {@link Long#MAX_VALUE} when none is known. */
    private long nextDueMillis = Long.MAX_VALUE;
    private boolean closed;

    /** A forwarder that runs {@code pass} on a thread of {@code threads}; call {@link #start()}. */
    public DueForwarder(Pass pass, Duration pollInterval, Clock clock, ThreadFactory threads) {
        this.pass = pass;
        this.pollNanos = pollInterval.toNanos();
        this.clock = clock;
        this.thread = threads.newThread(this::loop);
    }

    /** Runs the first pass now and keeps forwarding until {@link #close()}. */
    public void start() {
        thread.start();
    }

    /** A task becomes due at {@code at}: a pass runs then (at once if it has passed). */
    public void dueAt(Instant at) {
        long millis = at.toEpochMilli();
        lock.lock();
        try {
            if (millis < nextDueMillis) {
                nextDueMillis = millis;
                changed.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Stops; waits for a pass in progress to finish. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            changed.signal();
        } finally {
            lock.unlock();
        }
        if (Thread.currentThread() != thread && thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void loop() {
        while (true) {
            lock.lock();
            try {
                if (closed) {
                    return;
                }
                nextDueMillis = Long.MAX_VALUE;   // this pass forwards everything due so far
            } finally {
                lock.unlock();
            }
            long passedAt = System.nanoTime();
            Instant now = clock.instant();
            try {
                pass.run(now).ifPresent(next -> dueAt(next.isAfter(now) ? next : now.plus(AGAIN_AFTER)));
            } catch (RuntimeException e) {
                log.warn("forwarding due tasks failed; trying again within the poll interval", e);
            }
            if (!awaitNextPass(passedAt + pollNanos)) {
                return;
            }
        }
    }

    /** Waits until the next due time or {@code pollDeadline} (nano time); false when closed. */
    private boolean awaitNextPass(long pollDeadline) {
        lock.lock();
        try {
            while (!closed) {
                long wait = pollDeadline - System.nanoTime();
                if (nextDueMillis != Long.MAX_VALUE) {
                    wait = Math.min(wait, Math.max(0, nextDueMillis - clock.millis()) * 1_000_000);
                }
                if (wait <= 0) {
                    return true;
                }
                changed.awaitNanos(wait);
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }
}
