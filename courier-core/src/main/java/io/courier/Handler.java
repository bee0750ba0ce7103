package io.courier;

/**
 * Handles one delivered message.
 *
 * <p><b>Acknowledgement.</b> When {@code handle} returns normally the message is acknowledged (or,
 * if {@link Delivery#retryAfter} was called, rescheduled). When it throws, the message is not
 * acknowledged: the transport redelivers it after the subscription's
 * {@link SubscriptionOptions#failureRedeliveryDelay() failure redelivery delay}, never in a hot
 * loop. Put a {@link io.courier.middleware.RetryMiddleware} and a
 * {@link io.courier.middleware.DeadLetterMiddleware} in front of handlers to bound attempts and
 * keep poison messages out of the way.
 *
 * <p><b>Threads.</b> A handler registered with concurrency above one is called from several threads
 * at once and must be thread-safe. Delivery is at-least-once: the same message may be handled more
 * than once (after a crash, a lease expiry or a lost acknowledgement), so handlers should be
 * idempotent or sit behind the {@link io.courier.middleware.IdempotencyMiddleware}.
 */
@FunctionalInterface
public interface Handler {

    /**
     * Handles {@code delivery}. Any exception (or {@link Error}) means failure; it never kills the
     * consumer.
     */
    void handle(Delivery delivery) throws Exception;
}
