package io.courier.tasks;

import io.courier.CourierException;
import java.time.Duration;
import java.util.Objects;

/**
 * Thrown by a handler to say "not now, and it is not a failure": the task goes back to RETRY and
 * runs again after {@link #delay()}, without consuming its retry budget and without counting as a
 * failure in the statistics (for example: a rate limit was hit, a dependency is in maintenance).
 *
 * <p>A handler that throws this forever keeps its task forever; give up with
 * {@link SkipRetryException} when that is wrong.
 */
public class RetryLaterException extends CourierException {

    private final Duration delay;

    /** Retry after {@code delay}, with a reason. */
    public RetryLaterException(Duration delay, String message) {
        super(message);
        Objects.requireNonNull(delay, "delay");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must be >= 0, but was " + delay);
        }
        this.delay = delay;
    }

    /** How long to wait before the next attempt. */
    public Duration delay() {
        return delay;
    }
}
