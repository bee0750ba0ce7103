package io.courier.tasks.internal;

import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where a task server's idle fetchers wait: until tasks are announced, the poll interval passes or
 * the server closes. Wakes only as many fetchers as the announced tasks need (one per fetch batch),
 * so an announcement never sends every fetcher to an empty claim.
 *
 * <p>Announced tasks that no waiting fetcher took yet are remembered (up to {@code fetchers *
 * batch}): an announcement that arrives while a fetcher is in the middle of a claim that could not
 * see the task yet is not lost, and that fetcher claims again instead of waiting. A fetch that begins
 * takes up to a batch of them, since it sees every task announced before it began.
 *
 * <p>Thread-safe.
 */
public final class FetchGate {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final int batch;
    private final int limit;
    private int announced;
    private int waiting;
    private boolean closed;

    /**
     * A gate for {@code fetchers} threads that claim up to {@code batch} tasks each.
     *
     * @throws IllegalArgumentException if either is below 1
     */
    public FetchGate(int fetchers, int batch) {
        if (fetchers < 1 || batch < 1) {
            throw new IllegalArgumentException("fetchers and batch must be >= 1, but were " + fetchers + " and " + batch);
        }
        this.batch = batch;
        this.limit = (int) Math.min(Integer.MAX_VALUE, (long) fetchers * batch);
    }

    /** {@code count} tasks became ready: wakes one waiting fetcher per batch of them. */
    public void ready(int count) {
        if (count < 1) {
            return;
        }
        lock.lock();
        try {
            announced = (int) Math.min(limit, (long) announced + count);
            int wake = Math.min(waiting, (count + batch - 1) / batch);
            for (int i = 0; i < wake; i++) {
                changed.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /** A fetch begins: it will see every task announced so far, so up to {@code size} of them are taken. */
    public void fetching(int size) {
        lock.lock();
        try {
            announced = Math.max(0, announced - size);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until tasks were announced (taking up to a batch of them), {@code max} has passed, or the
     * gate is closed.
     *
     * @return true if woken by announced tasks
     * @throws InterruptedException if the thread is interrupted while waiting
     */
    public boolean await(Duration max) throws InterruptedException {
        lock.lock();
        try {
            long left = max.toNanos();
            waiting++;
            try {
                while (announced == 0 && !closed && left > 0) {
                    left = changed.awaitNanos(left);
                }
            } finally {
                waiting--;
            }
            if (announced > 0 && !closed) {
                announced = Math.max(0, announced - batch);
                return true;
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Releases every waiting fetcher now and for good (the server is closing). */
    public void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Fetchers waiting now (for tests and diagnostics). */
    public int waiting() {
        lock.lock();
        try {
            return waiting;
        } finally {
            lock.unlock();
        }
    }

    /** Announced tasks no fetch has taken yet (for tests and diagnostics). */
    int announced() {
        lock.lock();
        try {
            return announced;
        } finally {
            lock.unlock();
        }
    }
}
