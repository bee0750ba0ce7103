package io.courier;

import java.time.Duration;

/**
 * A running subscription: a consumer fetching from one topic for one group and calling a handler.
 *
 * <p>{@link #close()} is graceful: it stops fetching, waits up to the shutdown timeout for handlers
 * in flight to finish and settles them (ack or retry), then releases every message fetched but not
 * settled so that other consumers of the group receive it at once (or, for transports that cannot
 * release, after the lease expires). Nothing is acknowledged that was not handled. Idempotent and
 * thread-safe.
 */
public interface Subscription extends AutoCloseable {

    /** The options this subscription was started with. */
    SubscriptionOptions options();

    /** True until {@link #close()} starts. */
    boolean isRunning();

    /** Closes gracefully, waiting up to {@link SubscriptionOptions#shutdownTimeout()}. */
    @Override
    default void close() {
        close(options().shutdownTimeout());
    }

    /**
     * Closes gracefully, waiting up to {@code timeout} for handlers in flight. Handlers still running
     * after that are interrupted and their messages are left unacknowledged (they will be redelivered).
     */
    void close(Duration timeout);
}
