package io.courier;

/**
 * Capability: messages with the same {@linkplain Message#key() key} published by one publisher to
 * one topic are handled by a group in publish order, one at a time, even with concurrency above one.
 * Retries scheduled with {@link Delivery#retryAfter} may reorder; choose in-place retry to keep order
 * across failures.
 */
public interface KeyOrderedSubscriber extends Subscriber {
}
