package io.courier.spi.engine;

import java.time.Duration;

/**
 * Exponential backoff after consecutive failures: {@code min}, doubling up to {@code max}; reset by
 * a success. Not thread-safe (one per loop).
 */
public final class Backoff {

    private final long minMillis;
    private final long maxMillis;
    private long current;

    /**
     * A backoff from {@code min} doubling to {@code max}.
     *
     * @throws IllegalArgumentException when {@code min} is not positive or {@code max} is below it
     */
    public Backoff(Duration min, Duration max) {
        this.minMillis = min.toMillis();
        this.maxMillis = max.toMillis();
        if (minMillis < 1 || maxMillis < minMillis) {
            throw new IllegalArgumentException("backoff must have 1 ms <= min <= max, but was " + min + " to " + max);
        }
    }

    /** The wait before the next attempt after one more failure, in milliseconds. */
    public long next() {
        current = current == 0 ? minMillis : Math.min(maxMillis, current * 2);
        return current;
    }

    /** A success: the next failure waits {@code min} again. */
    public void reset() {
        current = 0;
    }

    /** True while the last attempt failed. */
    public boolean failing() {
        return current != 0;
    }
}
