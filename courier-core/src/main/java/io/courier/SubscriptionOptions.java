package io.courier;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How one subscription consumes: which topic and group, how many handlers run at once, how much
 * work may be in flight, and the timeouts that decide redelivery.
 *
 * <pre>{@code
 * SubscriptionOptions opts = SubscriptionOptions.builder("orders", "billing")
 *     .concurrency(8)
 *     .leaseTimeout(Duration.ofMinutes(2))
 *     .build();
 * }</pre>
 *
 * @param topic                  the topic to consume
 * @param group                  the consumer group; every group receives every message, consumers of
 *                               one group compete for them
 * @param concurrency            handlers running at once in this subscription (default {@value #DEFAULT_CONCURRENCY})
 * @param maxInFlight            messages fetched but not yet settled, at most; bounds memory and
 *                               gives backpressure (default twice the concurrency)
 * @param leaseTimeout           how long a fetched message stays invisible to other consumers of the
 *                               group before it is redelivered, if this consumer neither acks nor
 *                               extends it (a consumer that died); default 30 s
 * @param failureRedeliveryDelay when a handler throws and no middleware settled the message, how
 *                               long before it is delivered again (default 1 s)
 * @param startPosition          where a new group starts (default {@link StartPosition#EARLIEST})
 * @param shutdownTimeout        how long {@link Subscription#close()} waits for in-flight handlers
 *                               (default 30 s)
 * @param consumerName           a stable name for this consumer where the transport uses one
 *                               (Redis Streams); generated when empty
 */
public record SubscriptionOptions(
        String topic,
        String group,
        int concurrency,
        int maxInFlight,
        Duration leaseTimeout,
        Duration failureRedeliveryDelay,
        StartPosition startPosition,
        Duration shutdownTimeout,
        Optional<String> consumerName) {

    /** Default number of handlers running at once. */
    public static final int DEFAULT_CONCURRENCY = 4;
    /** Default lease (visibility) timeout. */
    public static final Duration DEFAULT_LEASE_TIMEOUT = Duration.ofSeconds(30);
    /** Default delay before redelivering a message whose handler threw. */
    public static final Duration DEFAULT_FAILURE_REDELIVERY_DELAY = Duration.ofSeconds(1);
    /** Default time {@link Subscription#close()} waits for in-flight work. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /** Validates every component; messages say what was expected and what was given. */
    public SubscriptionOptions {
        requireName(topic, "topic");
        requireName(group, "group");
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be >= 1, but was " + concurrency);
        }
        if (maxInFlight < concurrency) {
            throw new IllegalArgumentException("maxInFlight must be >= concurrency (" + concurrency + "), but was " + maxInFlight);
        }
        requirePositive(leaseTimeout, "leaseTimeout");
        Objects.requireNonNull(failureRedeliveryDelay, "failureRedeliveryDelay");
        if (failureRedeliveryDelay.isNegative()) {
            throw new IllegalArgumentException("failureRedeliveryDelay must be >= 0, but was " + failureRedeliveryDelay);
        }
        Objects.requireNonNull(startPosition, "startPosition");
        Objects.requireNonNull(shutdownTimeout, "shutdownTimeout");
        if (shutdownTimeout.isNegative()) {
            throw new IllegalArgumentException("shutdownTimeout must be >= 0, but was " + shutdownTimeout);
        }
        Objects.requireNonNull(consumerName, "consumerName");
    }

    /** Defaults for {@code topic} and {@code group}. */
    public static SubscriptionOptions of(String topic, String group) {
        return builder(topic, group).build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder(String topic, String group) {
        return new Builder(topic, group);
    }

    /** A builder holding these values. */
    public Builder toBuilder() {
        Builder b = new Builder(topic, group);
        b.concurrency = concurrency;
        b.maxInFlight = maxInFlight;
        b.leaseTimeout = leaseTimeout;
        b.failureRedeliveryDelay = failureRedeliveryDelay;
        b.startPosition = startPosition;
        b.shutdownTimeout = shutdownTimeout;
        b.consumerName = consumerName.orElse(null);
        return b;
    }

    static void requireName(String value, String what) {
        Objects.requireNonNull(value, what);
        if (value.isBlank()) {
            throw new IllegalArgumentException(what + " must not be blank");
        }
        if (value.length() > 200) {
            throw new IllegalArgumentException(what + " must be at most 200 characters, but was " + value.length());
        }
    }

    private static void requirePositive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(what + " must be > 0, but was " + d);
        }
    }

    /** Builds {@link SubscriptionOptions}. Not thread-safe. */
    public static final class Builder {
        private final String topic;
        private final String group;
        private int concurrency = DEFAULT_CONCURRENCY;
        private Integer maxInFlight;
        private Duration leaseTimeout = DEFAULT_LEASE_TIMEOUT;
        private Duration failureRedeliveryDelay = DEFAULT_FAILURE_REDELIVERY_DELAY;
        private StartPosition startPosition = StartPosition.EARLIEST;
        private Duration shutdownTimeout = DEFAULT_SHUTDOWN_TIMEOUT;
        private String consumerName;

        private Builder(String topic, String group) {
            this.topic = topic;
            this.group = group;
        }

        /** Handlers running at once. */
        public Builder concurrency(int concurrency) {
            this.concurrency = concurrency;
            return this;
        }

        /** Messages fetched but not settled, at most; defaults to twice the concurrency. */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = maxInFlight;
            return this;
        }

        /** Lease (visibility) timeout. */
        public Builder leaseTimeout(Duration leaseTimeout) {
            this.leaseTimeout = leaseTimeout;
            return this;
        }

        /** Delay before redelivering a message whose handler threw. */
        public Builder failureRedeliveryDelay(Duration delay) {
            this.failureRedeliveryDelay = delay;
            return this;
        }

        /** Where a new group starts. */
        public Builder startPosition(StartPosition startPosition) {
            this.startPosition = startPosition;
            return this;
        }

        /** How long close waits for in-flight handlers. */
        public Builder shutdownTimeout(Duration shutdownTimeout) {
            this.shutdownTimeout = shutdownTimeout;
            return this;
        }

        /** A stable consumer name, where the transport uses one. */
        public Builder consumerName(String consumerName) {
            this.consumerName = consumerName;
            return this;
        }

        /** Validates and builds. */
        public SubscriptionOptions build() {
            int inFlight = maxInFlight != null ? maxInFlight : Math.max(concurrency, concurrency * 2);
            return new SubscriptionOptions(topic, group, concurrency, inFlight, leaseTimeout,
                    failureRedeliveryDelay, startPosition, shutdownTimeout, Optional.ofNullable(consumerName));
        }
    }
}
