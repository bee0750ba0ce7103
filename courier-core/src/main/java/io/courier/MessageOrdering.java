package io.courier;

/**
 * The delivery order a subscription asks for, independent of the transport; set with
 * {@link SubscriptionOptions.Builder#ordering(MessageOrdering)}. A transport either provides the
 * order asked for or refuses the subscription at {@link Subscriber#subscribe subscribe} with an
 * {@link IllegalArgumentException} that says how to enable it; it never runs the subscription
 * without it.
 */
public enum MessageOrdering {
    /**
     * Whatever the transport does by default (the default): per-key order on the transports whose
     * subscriber is a {@link KeyOrderedSubscriber}, no promise on the others. Nothing is checked.
     */
    TRANSPORT_DEFAULT,
    /**
     * Per-key order: messages with the same {@linkplain Message#key() key} published by one publisher
     * to one topic are handled by the group in publish order, one at a time, even with
     * {@code concurrency > 1}; messages with different keys run concurrently, messages without a key
     * carry no order. Retries scheduled with {@link Delivery#retryAfter} may reorder (see
     * {@link KeyOrderedSubscriber}). In memory and SQL this is what they always do; Kafka handles
     * each key as its own lane ({@code Ordering.KEY}) unless the subscription carries Kafka options
     * that choose the ordering; RabbitMQ and Redis need key ordering turned on for the whole
     * transport ({@code RabbitMqConfig.Builder.keyOrdering(partitions)},
     * {@code RedisConfig.Builder.keyOrdering(true)}) and refuse the subscription otherwise.
     */
    KEY
}
