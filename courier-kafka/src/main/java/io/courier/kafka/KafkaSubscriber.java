package io.courier.kafka;

import io.courier.Handler;
import io.courier.KeyOrderedSubscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.util.Objects;

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
 *
 * <p><b>Kafka settings of a subscription</b> come from the {@link KafkaSubscriptionOptions} attached to
 * its {@link SubscriptionOptions} (with {@code SubscriptionOptions.Builder.with}), or else from
 * {@link KafkaConfig#subscriptionDefaults()}. {@link io.courier.MessageOrdering#KEY} without attached
 * Kafka options selects {@link Ordering#KEY}, with the retry mode of the defaults; with attached ones their
 * ordering is used as given (both orderings keep per-key order). Any other
 * {@link io.courier.TransportOption} is refused with an {@link IllegalArgumentException}.
 */
public interface KafkaSubscriber extends KeyOrderedSubscriber {

    /**
     * Subscribes with the Kafka settings attached to {@code options}, or else those of
     * {@link KafkaConfig#subscriptionDefaults()} (see the class comment for
     * {@link io.courier.MessageOrdering#KEY}).
     *
     * @throws IllegalArgumentException            if {@code options} carry a transport option other than
     *                                             {@link KafkaSubscriptionOptions}
     * @throws io.courier.TransportClosedException if the transport is closed
     * @throws TopicPartitionsException            if the topic exists with fewer partitions than required
     * @throws io.courier.CourierException         if the consumer cannot join its group in time
     */
    @Override
    Subscription subscribe(SubscriptionOptions options, Handler handler);

    /**
     * Subscribes with explicit Kafka settings for this subscription: the same as
     * {@code subscribe(options.toBuilder().with(kafkaOptions).build(), handler)}, so {@code kafkaOptions}
     * replace Kafka options already attached to {@code options}.
     *
     * @throws IllegalArgumentException            if {@code options} carry a transport option other than
     *                                             {@link KafkaSubscriptionOptions}
     * @throws io.courier.TransportClosedException if the transport is closed
     * @throws TopicPartitionsException            if the topic exists with fewer partitions than required
     * @throws io.courier.CourierException         if the consumer cannot join its group in time
     */
    default Subscription subscribe(SubscriptionOptions options, KafkaSubscriptionOptions kafkaOptions, Handler handler) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(kafkaOptions, "kafkaOptions");
        return subscribe(options.toBuilder().with(kafkaOptions).build(), handler);
    }
}
