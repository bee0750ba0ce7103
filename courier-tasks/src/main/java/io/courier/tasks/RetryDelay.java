package io.courier.tasks;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Decides how long a failed task waits before its next attempt.
 *
 * <p>The default, {@link #exponential()}, waits 10 s, 20 s, 40 s ... doubling up to 6 hours, with
 * "equal jitter" (each delay is drawn uniformly from the upper half of the nominal delay), so that
 * many tasks failing together do not retry together. With the default 25 retries a task keeps
 * trying for roughly three days before it is archived.
 */
@FunctionalInterface
public interface RetryDelay {

    /**
     * The delay before the next attempt.
     *
     * @param retried the retry about to be scheduled, 1-based (1 = the first retry)
     * @param error   what the failed attempt threw
     * @param task    the task as it was when the attempt started
     * @return a non-negative delay
     */
    Duration delay(int retried, Throwable error, TaskInfo task);

    /** The default: 10 s doubling to at most 6 h, equal jitter. */
    static RetryDelay exponential() {
        return exponential(Duration.ofSeconds(10), 2.0, Duration.ofHours(6), true);
    }

    /**
     * {@code initial * multiplier^(retried-1)} capped at {@code max}; with {@code jitter} each delay
     * is drawn uniformly from [d/2, d].
     *
     * @throws IllegalArgumentException if initial is not positive, multiplier is below 1 or max is below initial
     */
    static RetryDelay exponential(Duration initial, double multiplier, Duration max, boolean jitter) {
        Objects.requireNonNull(initial, "initial");
        Objects.requireNonNull(max, "max");
        if (initial.isZero() || initial.isNegative()) {
            throw new IllegalArgumentException("initial must be > 0, but was " + initial);
        }
        if (!(multiplier >= 1.0)) {
            throw new IllegalArgumentException("multiplier must be >= 1, but was " + multiplier);
        }
        if (max.compareTo(initial) < 0) {
            throw new IllegalArgumentException("max must be >= initial (" + initial + "), but was " + max);
        }
        long initialNanos = initial.toNanos();
        long maxNanos = max.toNanos();
        return (retried, error, task) -> {
            double nominal = initialNanos * Math.pow(multiplier, Math.max(0, retried - 1));
            long nanos = nominal >= maxNanos ? maxNanos : (long) nominal;
            if (jitter && nanos > 1) {
                nanos = nanos / 2 + ThreadLocalRandom.current().nextLong(nanos / 2 + 1);
            }
            return Duration.ofNanos(nanos);
        };
    }

    /** The same delay before every retry. */
    static RetryDelay fixed(Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, but was " + delay);
        }
        return (retried, error, task) -> delay;
    }
}
