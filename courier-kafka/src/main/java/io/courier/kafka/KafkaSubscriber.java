package io.courier.kafka;

import io.courier.Handler;
import io.courier.KeyOrderedSubscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;

/**
 * The Kafka transport's subscriber. Each subscription runs one Kafka consumer in the subscription's
 * group with its own poll thread, hands records to {@code concurrency} workers keeping the order of
 * each partition's keyed records (or each key, see {@link Ordering}; records without a key are spread
 * over the workers when they outnumber the partitions), and commits offsets only up to the first
 * record of each partition that is not finished. Messages with the same key are handled in publish
 * order, so this is a {@link KeyOrderedSubscriber}.
 *
 * <p>{@link #subscribe(SubscriptionOptions, Handler)} returns once the consumer has joined its group
 * and received its first assignment, so a message published after it returns reaches the group, also
 * with {@link io.courier.StartPosition#LATEST}. Thread-safe.
 */
public interface KafkaSubscriber extends KeyOrderedSubscriber {

    /**
     * Subscribes with the Kafka settings from {@link KafkaConfig#subscriptionDefaults()}.
     *
     * @throws io.courier.TransportClosedException if the transport is closed
     * @throws TopicPartitionsException            if the topic exists with fewer partitions than required
     * @throws io.courier.CourierException         if the consumer cannot join its group in time
     */
    @Override
    Subscription subscribe(SubscriptionOptions options, Handler handler);

    /**
     * Subscribes with explicit Kafka settings for this subscription.
     *
     * @throws io.courier.TransportClosedException if the transport is closed
     * @throws TopicPartitionsException            if the topic exists with fewer partitions than required
     * @throws io.courier.CourierException         if the consumer cannot join its group in time
     */
    Subscription subscribe(SubscriptionOptions options, KafkaSubscriptionOptions kafkaOptions, Handler handler);
}
