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
 * fetch thread, in arrival order. The broker's prefetch bounds how many can wait. Thread-safe.
 *
 * @param <R> the source's record type
 */
final class DeliveryBuffer<R> {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private final ArrayDeque<Fetched<R>> waiting = new ArrayDeque<>();
    /** A taker waits for {@link #arrived}; guarded by {@link #lock}. */
    private boolean takerWaiting;
    /** {@link #wakeUp()} was called since the last {@link #take}; guarded by {@link #lock}. */
    private boolean woken;

    /** Adds a delivery, waking a waiting taker. */
    void add(Fetched<R> delivery) {
        lock.lock();
        try {
            waiting.addLast(delivery);
            if (takerWaiting) {
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
            while (waiting.isEmpty() && !woken && nanos > 0) {
                takerWaiting = true;
                try {
                    nanos = arrived.awaitNanos(nanos);
                } finally {
                    takerWaiting = false;
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

    /** Makes a waiting (or the next) {@link #take} return at once. Does not block beyond a short lock. */
    void wakeUp() {
        lock.lock();
        try {
            woken = true;
            arrived.signal();
        } finally {
            lock.unlock();
        }
    }
}
