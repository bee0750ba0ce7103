package io.courier.rabbitmq.internal;

import io.courier.spi.engine.Fetched;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where deliveries the broker pushed (on the connection's consumer threads) wait for the engine's
 * threads that take them (its fetch thread, or its handler threads when they fetch for themselves),
 * in arrival order. The broker's prefetch bounds how many can wait. Thread-safe; any number of
 * threads may take at once.
 *
 * @param <R> the source's record type
 */
final class DeliveryBuffer<R> {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private final ArrayDeque<Fetched<R>> waiting = new ArrayDeque<>();
    /** Takers waiting for {@link #arrived}; guarded by {@link #lock}. */
    private int takersWaiting;
    /** {@link #wakeUp()} was called since the last {@link #take}; guarded by {@link #lock}. */
    private boolean woken;
    /** Calls of {@link #wakeUp()} so far, so that every taker waiting at the time returns; guarded by {@link #lock}. */
    private long wakeUps;

    /** Adds a delivery, waking a waiting taker. */
    void add(Fetched<R> delivery) {
        lock.lock();
        try {
            waiting.addLast(delivery);
            if (takersWaiting > 0) {
                arrived.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes up to {@code max} deliveries, oldest first; when none is there, waits up to
     * {@code maxWait} for one, returning early (possibly with none) after {@link #wakeUp()}.
     *
     * @throws InterruptedException when the calling thread is interrupted while waiting
     */
    List<Fetched<R>> take(int max, Duration maxWait) throws InterruptedException {
        if (max <= 0) {
            return List.of();
        }
        lock.lock();
        try {
            long nanos = maxWait.toNanos();
            long wakeUpsSeen = wakeUps;
            while (waiting.isEmpty() && !woken && wakeUps == wakeUpsSeen && nanos > 0) {
                takersWaiting++;
                try {
                    nanos = arrived.awaitNanos(nanos);
                } finally {
                    takersWaiting--;
                }
            }
            woken = false;
            int n = Math.min(max, waiting.size());
            if (n == 0) {
                return List.of();
            }
            List<Fetched<R>> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(waiting.pollFirst());
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Makes every waiting {@link #take} (or, when none waits, the next one) return at once. Does not
     * block beyond a short lock.
     */
    void wakeUp() {
        lock.lock();
        try {
            woken = true;
            wakeUps++;
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Takes waiting now (for tests). */
    int takersWaiting() {
        lock.lock();
        try {
            return takersWaiting;
        } finally {
            lock.unlock();
        }
    }
}
