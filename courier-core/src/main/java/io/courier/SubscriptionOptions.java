package io.courier;

import io.courier.spi.Settings;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * How one subscription consumes: which topic and group, how many handlers run at once, how much
 * work may be in flight, the timeouts that decide redelivery, the order it needs, and any
 * transport-specific settings. Immutable and thread-safe.
 *
 * <pre>{@code
 * SubscriptionOptions opts = SubscriptionOptions.builder("orders", "billing")
 *     .concurrency(8)
 *     .leaseTimeout(Duration.ofMinutes(2))
 *     .ordering(MessageOrdering.KEY)                     // per-key order, or fail at subscribe
 *     .with(KafkaSubscriptionOptions.builder().retryMode(RetryMode.IN_PLACE).build())   // Kafka only
 *     .build();
 * }</pre>
 *
 * <p><b>Ordering and transport options.</b> {@link #ordering()} asks every transport for the same
 * guarantee; a transport that cannot give it refuses the subscription (see {@link MessageOrdering}).
 * {@link #option(Class)} carries settings only one transport understands ({@link TransportOption});
 * a transport handed an option type it does not understand refuses the subscription with an
 * {@link IllegalArgumentException} naming the option and the transport. Both travel unchanged through
 * a {@link Router}.
 *
 * <p>Built only through {@link #builder(String, String)}, {@link #of(String, String)} and
 * {@link #toBuilder()}: options added in later versions get a default in the builder, so code written
 * against this version keeps compiling and behaving the same. (Until this version it was a record;
 * its accessor methods are unchanged, its canonical constructor is gone.)
 *
 * <p>Every value is validated when the options are built, with a message that says what was expected
 * and what was given; the limits are the {@code MIN_*} and {@code MAX_*} constants.
 */
public final class SubscriptionOptions {

    /** Default number of handlers running at once. */
    public static final int DEFAULT_CONCURRENCY = 4;
    /** Largest {@link #concurrency()}: every handler slot is a thread (a platform thread before Java 21). */
    public static final int MAX_CONCURRENCY = 4096;
    /** Largest {@link #maxInFlight()}: fetched messages are held in memory. */
    public static final int MAX_IN_FLIGHT = 65_536;
    /** Default lease (visibility) timeout. */
    public static final Duration DEFAULT_LEASE_TIMEOUT = Duration.ofSeconds(30);
    /**
     * Shortest {@link #leaseTimeout()}: 1 s. A lease must outlast the claim that takes it and the
     * hand-over to a worker, and where a transport extends leases while handlers run (SQL: every third
     * of the lease) it must leave room for that write; a lease of a few milliseconds expires before the
     * handler starts, so the message is dropped or handed out again while it runs.
     */
    public static final Duration MIN_LEASE_TIMEOUT = Duration.ofSeconds(1);
    /** Longest {@link #leaseTimeout()}, {@link #failureRedeliveryDelay()} and {@link #shutdownTimeout()}: 24 hours. */
    public static final Duration MAX_TIMEOUT = Duration.ofHours(24);
    /** Default delay before redelivering a message whose handler threw. */
    public static final Duration DEFAULT_FAILURE_REDELIVERY_DELAY = Duration.ofSeconds(1);
    /** Default time {@link Subscription#close()} waits for in-flight work. */
    public static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);
    /** Longest topic, group and consumer name, in characters. */
    public static final int MAX_NAME_LENGTH = 200;

    private final String topic;
    private final String group;
    private final int concurrency;
    private final int maxInFlight;
    private final Duration leaseTimeout;
    private final Duration failureRedeliveryDelay;
    private final StartPosition startPosition;
    private final Duration shutdownTimeout;
    private final Optional<String> consumerName;
    private final MessageOrdering ordering;
    private final Map<Class<? extends TransportOption>, TransportOption> transportOptions;
    private final Optional<Executor> executor;

    private SubscriptionOptions(Builder b) {
        this.topic = requireName(b.topic, "topic");
        this.group = requireName(b.group, "group");
        this.concurrency = Settings.between(b.concurrency, 1, MAX_CONCURRENCY, "concurrency");
        int inFlight = b.maxInFlight != null ? b.maxInFlight : concurrency * 2;
        if (inFlight < concurrency || inFlight > MAX_IN_FLIGHT) {
            throw new IllegalArgumentException("maxInFlight must be between concurrency (" + concurrency + ") and "
                    + MAX_IN_FLIGHT + ", but was " + inFlight);
        }
        this.maxInFlight = inFlight;
        this.leaseTimeout = Settings.between(b.leaseTimeout, MIN_LEASE_TIMEOUT, MAX_TIMEOUT, "leaseTimeout");
        this.failureRedeliveryDelay = Settings.between(b.failureRedeliveryDelay, Duration.ZERO, MAX_TIMEOUT,
                "failureRedeliveryDelay");
        this.startPosition = Objects.requireNonNull(b.startPosition, "startPosition");
        this.shutdownTimeout = Settings.between(b.shutdownTimeout, Duration.ZERO, MAX_TIMEOUT, "shutdownTimeout");
        this.consumerName = b.consumerName == null ? Optional.empty()
                : Optional.of(requireName(b.consumerName, "consumerName"));
        this.ordering = Objects.requireNonNull(b.ordering, "ordering");
        this.transportOptions = Collections.unmodifiableMap(new LinkedHashMap<>(b.transportOptions));
        this.executor = Optional.ofNullable(b.executor);
    }

    /** Defaults for {@code topic} and {@code group}. */
    public static SubscriptionOptions of(String topic, String group) {
        return builder(topic, group).build();
    }

    /** A builder starting from the defaults; topic and group are checked by {@link Builder#build()}. */
    public static Builder builder(String topic, String group) {
        return new Builder(topic, group);
    }

    /** A builder holding these values, to derive changed options. */
    public Builder toBuilder() {
        Builder b = new Builder(topic, group);
        b.concurrency = concurrency;
        b.maxInFlight = maxInFlight;
        b.leaseTimeout = leaseTimeout;
        b.failureRedeliveryDelay = failureRedeliveryDelay;
        b.startPosition = startPosition;
        b.shutdownTimeout = shutdownTimeout;
        b.consumerName = consumerName.orElse(null);
        b.ordering = ordering;
        b.transportOptions.putAll(transportOptions);
        b.executor = executor.orElse(null);
        return b;
    }

    /**
     * The executor handlers run on, when the caller gave one ({@link Builder#executor}); empty for the
     * subscription's own {@code concurrency} threads (virtual threads where the runtime has them).
     */
    public Optional<Executor> executor() {
        return executor;
    }

    /** The topic to consume. */
    public String topic() {
        return topic;
    }

    /** The consumer group: every group receives every message, consumers of one group compete for them. */
    public String group() {
        return group;
    }

    /** Handlers running at once in this subscription (default {@value #DEFAULT_CONCURRENCY}, 1 .. {@value #MAX_CONCURRENCY}). */
    public int concurrency() {
        return concurrency;
    }

    /**
     * Messages fetched but not yet settled, at most; bounds memory and gives backpressure (default
     * twice the concurrency, at least the concurrency, at most {@value #MAX_IN_FLIGHT}).
     */
    public int maxInFlight() {
        return maxInFlight;
    }

    /**
     * How long a fetched message stays invisible to other consumers of the group before it is
     * redelivered, if this consumer neither settles nor extends it (a consumer that died); default
     * 30 s, 1 s .. 24 h. Whether a running handler's lease is extended depends on the transport (see
     * its guide).
     */
    public Duration leaseTimeout() {
        return leaseTimeout;
    }

    /**
     * When a handler throws and no middleware settled the message, how long before it is delivered
     * again (default 1 s, 0 .. 24 h).
     */
    public Duration failureRedeliveryDelay() {
        return failureRedeliveryDelay;
    }

    /** Where a new group starts (default {@link StartPosition#EARLIEST}). */
    public StartPosition startPosition() {
        return startPosition;
    }

    /** How long {@link Subscription#close()} waits for in-flight handlers (default 30 s, 0 .. 24 h). */
    public Duration shutdownTimeout() {
        return shutdownTimeout;
    }

    /** A stable name for this consumer where the transport uses one (Redis Streams); generated when empty. */
    public Optional<String> consumerName() {
        return consumerName;
    }

    /**
     * The order this subscription needs (default {@link MessageOrdering#TRANSPORT_DEFAULT}, which asks
     * for nothing beyond what the transport does anyway). A transport that cannot keep the order asked
     * for refuses the subscription; see {@link MessageOrdering}.
     */
    public MessageOrdering ordering() {
        return ordering;
    }

    /**
     * The transport-specific option of {@code type} attached with {@link Builder#with(TransportOption)},
     * if any, e.g. {@code options.option(KafkaSubscriptionOptions.class)}.
     *
     * @throws NullPointerException if {@code type} is null
     */
    public <T extends TransportOption> Optional<T> option(Class<T> type) {
        Objects.requireNonNull(type, "type");
        for (TransportOption o : transportOptions.values()) {
            if (type.isInstance(o)) {
                return Optional.of(type.cast(o));
            }
        }
        return Optional.empty();
    }

    /**
     * Every transport-specific option attached, in the order first attached; empty by default. A
     * transport checks that it understands each of them (see {@link TransportOption}).
     */
    public List<TransportOption> transportOptions() {
        return List.copyOf(transportOptions.values());
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) return true;
        if (!(o instanceof SubscriptionOptions other)) return false;
        return concurrency == other.concurrency && maxInFlight == other.maxInFlight && topic.equals(other.topic)
                && group.equals(other.group) && leaseTimeout.equals(other.leaseTimeout)
                && failureRedeliveryDelay.equals(other.failureRedeliveryDelay) && startPosition == other.startPosition
                && shutdownTimeout.equals(other.shutdownTimeout) && consumerName.equals(other.consumerName)
                && ordering == other.ordering && transportOptions.equals(other.transportOptions)
                && executor.equals(other.executor);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, group, concurrency, maxInFlight, leaseTimeout, failureRedeliveryDelay, startPosition,
                shutdownTimeout, consumerName, ordering, transportOptions, executor);
    }

    @Override
    public String toString() {
        return "SubscriptionOptions[topic=" + topic + ", group=" + group + ", concurrency=" + concurrency
                + ", maxInFlight=" + maxInFlight + ", leaseTimeout=" + leaseTimeout + ", failureRedeliveryDelay="
                + failureRedeliveryDelay + ", startPosition=" + startPosition + ", shutdownTimeout=" + shutdownTimeout
                + ", consumerName=" + consumerName + ", ordering=" + ordering + ", transportOptions="
                + transportOptions.values() + (executor.isPresent() ? ", executor=" + executor.get() : "") + ']';
    }

    private static String requireName(String value, String what) {
        Objects.requireNonNull(value, what);
        if (value.isBlank()) {
            throw new IllegalArgumentException(what + " must not be blank, but was '" + value + "'");
        }
        if (value.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException(what + " must be at most " + MAX_NAME_LENGTH + " characters, but was "
                    + value.length());
        }
        return value;
    }


    /** Builds {@link SubscriptionOptions}; every value is checked by {@link #build()}. Not thread-safe. */
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
        private MessageOrdering ordering = MessageOrdering.TRANSPORT_DEFAULT;
        private final Map<Class<? extends TransportOption>, TransportOption> transportOptions = new LinkedHashMap<>();
        private Executor executor;

        private Builder(String topic, String group) {
            this.topic = topic;
            this.group = group;
        }

        /**
         * Runs handlers on {@code executor} instead of the subscription's own threads, still at most
         * {@code concurrency} at once; for example {@code Executors.newVirtualThreadPerTaskExecutor()}
         * on Java 21, or a pool shared by several subscriptions. The subscription never shuts it down.
         * Default: {@code concurrency} threads of the subscription's own, virtual where available.
         */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** Handlers running at once: 1 .. {@value SubscriptionOptions#MAX_CONCURRENCY} (default {@value SubscriptionOptions#DEFAULT_CONCURRENCY}). */
        public Builder concurrency(int concurrency) {
            this.concurrency = concurrency;
            return this;
        }

        /**
         * Messages fetched but not settled, at most: the concurrency .. {@value SubscriptionOptions#MAX_IN_FLIGHT};
         * defaults to twice the concurrency.
         */
        public Builder maxInFlight(int maxInFlight) {
            this.maxInFlight = maxInFlight;
            return this;
        }

        /** Lease (visibility) timeout: 1 s .. 24 h (default 30 s). */
        public Builder leaseTimeout(Duration leaseTimeout) {
            this.leaseTimeout = leaseTimeout;
            return this;
        }

        /** Delay before redelivering a message whose handler threw: 0 .. 24 h (default 1 s). */
        public Builder failureRedeliveryDelay(Duration delay) {
            this.failureRedeliveryDelay = delay;
            return this;
        }

        /** Where a new group starts (default {@link StartPosition#EARLIEST}). */
        public Builder startPosition(StartPosition startPosition) {
            this.startPosition = startPosition;
            return this;
        }

        /** How long close waits for in-flight handlers: 0 .. 24 h (default 30 s). */
        public Builder shutdownTimeout(Duration shutdownTimeout) {
            this.shutdownTimeout = shutdownTimeout;
            return this;
        }

        /** A stable consumer name, where the transport uses one; not blank, at most 200 characters; null for a generated one. */
        public Builder consumerName(String consumerName) {
            this.consumerName = consumerName;
            return this;
        }

        /**
         * The order the subscription needs (default {@link MessageOrdering#TRANSPORT_DEFAULT}); with
         * {@link MessageOrdering#KEY} a transport that cannot keep per-key order refuses to subscribe.
         */
        public Builder ordering(MessageOrdering ordering) {
            this.ordering = ordering;
            return this;
        }

        /**
         * Attaches a transport-specific option, e.g. {@code KafkaSubscriptionOptions}; it replaces an
         * option of the same type attached before. A transport that does not understand the option's
         * type refuses the subscription (see {@link TransportOption}).
         *
         * @throws NullPointerException if {@code option} is null
         */
        public Builder with(TransportOption option) {
            Objects.requireNonNull(option, "option");
            transportOptions.put(option.getClass(), option);
            return this;
        }

        /**
         * Validates and builds.
         *
         * @throws IllegalArgumentException when a value is out of its range, naming it, the range and the value
         * @throws NullPointerException     when topic, group, a duration or the ordering is null
         */
        public SubscriptionOptions build() {
            return new SubscriptionOptions(this);
        }
    }
}
