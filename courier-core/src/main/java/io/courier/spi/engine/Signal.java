package io.courier.spi.engine;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A wake-up flag for one waiting thread: a {@link #signal()} before {@link #await} is not lost.
 * Thread-safe.
 */
public final class Signal {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition raised = lock.newCondition();
    private boolean pending;

    /** Raises the flag and wakes the waiter. */
    public void signal() {
        lock.lock();
        try {
            pending = true;
            raised.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until the flag is raised or {@code nanos} pass, then lowers it.
     *
     * @return true when signalled
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public boolean await(long nanos) throws InterruptedException {
        lock.lock();
        try {
            long left = nanos;
            while (!pending && left > 0) {
                left = raised.awaitNanos(left);
            }
            boolean was = pending;
            pending = false;
            return was;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits up to {@code millis} milliseconds; see {@link #await(long)}.
     *
     * @return true when signalled
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public boolean awaitMillis(long millis) throws InterruptedException {
        return await(TimeUnit.MILLISECONDS.toNanos(millis));
    }
}
