package io.courier.tasks;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A server's worker slots and the attempts that hold them: the {@link Fetcher} takes free slots
 * before it claims, an attempt gives its slot back when it is done, and shutdown waits here for the
 * running attempts. Thread-safe.
 */
final class Workers {

    private final Semaphore slots;
    private final Map<String, Execution> running = new ConcurrentHashMap<>();
    private final Object monitor = new Object();

    /** {@code concurrency} slots, all free. */
    Workers(int concurrency) {
        this.slots = new Semaphore(concurrency);
    }

    /**
     * Takes between 1 and {@code most} free slots, waiting up to {@code wait} for the first one.
     *
     * @return how many were taken; 0 when none came free in time
     * @throws InterruptedException if interrupted while waiting
     */
    int take(int most, Duration wait) throws InterruptedException {
        if (!slots.tryAcquire(wait.toNanos(), TimeUnit.NANOSECONDS)) {
            return 0;
        }
        int free = 1 + slots.drainPermits();
        int taken = Math.min(free, most);
        if (free > taken) {
            slots.release(free - taken);
        }
        return taken;
    }

    /** Gives back {@code n} slots taken with {@link #take} that no attempt holds. */
    void release(int n) {
        if (n > 0) {
            slots.release(n);
        }
    }

    /** {@code e} runs in one of the taken slots. */
    void started(Execution e) {
        running.put(e.taskId(), e);
    }

    /** Frees {@code e}'s slot before it is {@link #done}: its outcome is settled, only being written. */
    void freeEarly(Execution e) {
        e.slotFreedEarly = true;
        slots.release();
    }

    /** {@code e} is over: forgets it and frees its slot (unless freed early). */
    void done(Execution e) {
        running.remove(e.taskId(), e);
        if (!e.slotFreedEarly) {
            slots.release();
        }
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /** The attempts running now (settled ones whose outcome is being written included). */
    Collection<Execution> running() {
        return List.copyOf(running.values());
    }

    /** How many attempts run now. */
    int count() {
        return running.size();
    }

    /**
     * Waits until no attempt runs or {@code deadlineNanos} ({@link System#nanoTime()}) passes.
     *
     * @return true when none runs
     */
    boolean awaitIdle(long deadlineNanos) {
        synchronized (monitor) {
            long left;
            while (!running.isEmpty() && (left = deadlineNanos - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(monitor, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            return running.isEmpty();
        }
    }
}
