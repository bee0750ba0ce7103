package io.courier.kafka;

import io.courier.TransportOption;
import java.util.Objects;

/**
 * Kafka-specific settings of one subscription, a {@link TransportOption} attached to the
 * transport-independent {@link io.courier.SubscriptionOptions} with
 * {@link io.courier.SubscriptionOptions.Builder#with(TransportOption) with}, so they also reach Kafka
 * through a {@link io.courier.Router}. Subscriptions without them use
 * {@link KafkaConfig#subscriptionDefaults()}. Other transports refuse a subscription that carries them.
 *
 * <pre>{@code
 * router.route(SubscriptionOptions.builder("orders", "billing")
 *         .concurrency(8)
 *         .with(KafkaSubscriptionOptions.builder().ordering(Ordering.KEY).retryMode(RetryMode.IN_PLACE).build())
 *         .build(),
 *     handler);
 * }</pre>
 *
 * <p>When they are attached, their {@link #ordering()} is used as given, also with
 * {@link io.courier.SubscriptionOptions#ordering() ordering} {@link io.courier.MessageOrdering#KEY}:
 * both Kafka orderings keep per-key order ({@link Ordering#PARTITION} is the stricter one).
 *
 * @param retryMode what happens to a record whose handler threw (default {@link RetryMode#RETRY_TOPIC})
 * @param ordering  the unit handled one record at a time (default {@link Ordering#PARTITION})
 */
public record KafkaSubscriptionOptions(RetryMode retryMode, Ordering ordering) implements TransportOption {

    private static final KafkaSubscriptionOptions DEFAULTS = new KafkaSubscriptionOptions(RetryMode.RETRY_TOPIC, Ordering.PARTITION);

    /** Validates. */
    public KafkaSubscriptionOptions {
        Objects.requireNonNull(retryMode, "retryMode");
        Objects.requireNonNull(ordering, "ordering");
    }

    /** Retry topic and per-partition ordering. */
    public static KafkaSubscriptionOptions defaults() {
        return DEFAULTS;
    }

    /** A builder starting from the {@linkplain #defaults() defaults}. */
    public static Builder builder() {
        return new Builder(DEFAULTS);
    }

    /** A builder holding these values. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Builds {@link KafkaSubscriptionOptions}. Not thread-safe. */
    public static final class Builder {
        private RetryMode retryMode;
        private Ordering ordering;

        private Builder(KafkaSubscriptionOptions from) {
            this.retryMode = from.retryMode;
            this.ordering = from.ordering;
        }

        /** What happens to a record whose handler threw. */
        public Builder retryMode(RetryMode retryMode) {
            this.retryMode = retryMode;
            return this;
        }

        /** The unit handled one record at a time. */
        public Builder ordering(Ordering ordering) {
            this.ordering = ordering;
            return this;
        }

        /** Validates and builds. */
        public KafkaSubscriptionOptions build() {
            return new KafkaSubscriptionOptions(retryMode, ordering);
        }
    }
}
