package io.courier.testkit;

import java.time.Duration;
import java.util.Objects;

/**
 * What a transport declares it can do, for the {@link TransportConformanceSuite}.
 *
 * <p>The suite runs every test whose capabilities are declared and skips the others with a message
 * naming the missing capability; it never skips silently. Declarations that can be checked against
 * the transport are checked (see {@code declaredFeaturesMatchTheTransport}): a transport that
 * declares {@link #delayedDelivery()} must have a {@link io.courier.DelayedPublisher}, and one whose
 * publisher is a {@code DelayedPublisher} must declare it.
 *
 * <pre>{@code
 * TransportFeatures.builder()
 *     .persistent(true)
 *     .survivesRestart(true)
 *     .crossProcess(true)
 *     .delayedDelivery(true)
 *     .maxPayloadBytes(1024 * 1024)
 *     .build();
 * }</pre>
 *
 * @param persistent           published messages are stored outside the publishing JVM's heap (a
 *                             file, a database, a broker), so a completed publish survives the
 *                             death of that JVM
 * @param survivesRestart      closing the transport (and restarting the broker, when the test has a
 *                             {@linkplain TransportConformanceSuite#restartBroker() restart hook})
 *                             and opening a new instance over the same store loses no published
 *                             message; requires {@code persistent}
 * @param crossProcess         several JVMs can share one store, consumers of one group competing
 *                             across processes; needed for the SIGKILL test, which also requires
 *                             {@link TransportConformanceSuite#childTransportFactory()}
 * @param consumerGroups       every group receives every message and consumers of one group compete
 * @param delayedDelivery      the publisher implements {@link io.courier.DelayedPublisher}
 * @param keyOrdering          the subscriber implements {@link io.courier.KeyOrderedSubscriber} and keeps
 *                             per-key order when a subscription asks for
 *                             {@link io.courier.MessageOrdering#KEY}; a transport not declaring it
 *                             must refuse such a subscription at subscribe with an
 *                             {@link IllegalArgumentException}
 * @param partitionedConsumers consumers of a group own partitions of a topic (Kafka), so a message
 *                             waits for the consumer owning its partition instead of going to any
 *                             idle consumer; the test that a blocked consumer holds at most
 *                             {@code maxInFlight} messages cannot apply
 * @param connectionFaults     the test overrides {@link TransportConformanceSuite#cutConnections()}
 *                             and {@link TransportConformanceSuite#healConnections()} (usually with
 *                             a {@link io.courier.testkit.fault.TcpProxy} between transport and broker)
 * @param maxPayloadBytes      the payload limit the transport enforces with
 *                             {@link io.courier.MessageTooLargeException}, or {@value #NO_PAYLOAD_LIMIT}
 *                             when it enforces none of its own
 * @param leaseTimeout         the lease timeout the suite sets on subscriptions in tests that wait
 *                             for a lease to expire (a killed consumer, an abandoned handler); keep it
 *                             short, default {@code 2 s}
 * @param awaitTimeout         how long the suite waits for an expected outcome before failing; a
 *                             generous correctness bound, not a performance target; default {@code 30 s}
 * @param delayTolerance       how late a delayed message may arrive after its delivery time: a
 *                             generous bound on what should be a few milliseconds; default
 *                             {@code 500 ms} (it may never arrive early)
 */
public record TransportFeatures(
        boolean persistent,
        boolean survivesRestart,
        boolean crossProcess,
        boolean consumerGroups,
        boolean delayedDelivery,
        boolean keyOrdering,
        boolean partitionedConsumers,
        boolean connectionFaults,
        int maxPayloadBytes,
        Duration leaseTimeout,
        Duration awaitTimeout,
        Duration delayTolerance) {

    /** {@link #maxPayloadBytes()} value meaning the transport enforces no payload limit of its own. */
    public static final int NO_PAYLOAD_LIMIT = 0;
    /** Default {@link #leaseTimeout()}. */
    public static final Duration DEFAULT_LEASE_TIMEOUT = Duration.ofSeconds(2);
    /** Default {@link #awaitTimeout()}. */
    public static final Duration DEFAULT_AWAIT_TIMEOUT = Duration.ofSeconds(30);
    /** Default {@link #delayTolerance()}. */
    public static final Duration DEFAULT_DELAY_TOLERANCE = Duration.ofMillis(500);

    /** Validates the declaration; messages say what was expected and what was given. */
    public TransportFeatures {
        if (survivesRestart && !persistent) {
            throw new IllegalArgumentException("survivesRestart requires persistent, but persistent was false");
        }
        if (crossProcess && !persistent) {
            throw new IllegalArgumentException("crossProcess requires persistent, but persistent was false");
        }
        if (maxPayloadBytes < 0) {
            throw new IllegalArgumentException("maxPayloadBytes must be >= 0 (0 = no limit), but was " + maxPayloadBytes);
        }
        requirePositive(leaseTimeout, "leaseTimeout");
        requirePositive(awaitTimeout, "awaitTimeout");
        requirePositive(delayTolerance, "delayTolerance");
    }

    private static void requirePositive(Duration d, String what) {
        Objects.requireNonNull(d, what);
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(what + " must be > 0, but was " + d);
        }
    }

    /**
     * A builder starting from the defaults: only {@link #consumerGroups()} declared, no payload
     * limit, and the default timeouts.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.persistent = persistent;
        b.survivesRestart = survivesRestart;
        b.crossProcess = crossProcess;
        b.consumerGroups = consumerGroups;
        b.delayedDelivery = delayedDelivery;
        b.keyOrdering = keyOrdering;
        b.partitionedConsumers = partitionedConsumers;
        b.connectionFaults = connectionFaults;
        b.maxPayloadBytes = maxPayloadBytes;
        b.leaseTimeout = leaseTimeout;
        b.awaitTimeout = awaitTimeout;
        b.delayTolerance = delayTolerance;
        return b;
    }

    /** Builds {@link TransportFeatures}; every setter documents its component. Not thread-safe. */
    public static final class Builder {
        private boolean persistent;
        private boolean survivesRestart;
        private boolean crossProcess;
        private boolean consumerGroups = true;
        private boolean delayedDelivery;
        private boolean keyOrdering;
        private boolean partitionedConsumers;
        private boolean connectionFaults;
        private int maxPayloadBytes = NO_PAYLOAD_LIMIT;
        private Duration leaseTimeout = DEFAULT_LEASE_TIMEOUT;
        private Duration awaitTimeout = DEFAULT_AWAIT_TIMEOUT;
        private Duration delayTolerance = DEFAULT_DELAY_TOLERANCE;

        private Builder() {
        }

        /** See {@link TransportFeatures#persistent()}; default false. */
        public Builder persistent(boolean value) {
            this.persistent = value;
            return this;
        }

        /** See {@link TransportFeatures#survivesRestart()}; default false. */
        public Builder survivesRestart(boolean value) {
            this.survivesRestart = value;
            return this;
        }

        /** See {@link TransportFeatures#crossProcess()}; default false. */
        public Builder crossProcess(boolean value) {
            this.crossProcess = value;
            return this;
        }

        /** See {@link TransportFeatures#consumerGroups()}; default true. */
        public Builder consumerGroups(boolean value) {
            this.consumerGroups = value;
            return this;
        }

        /** See {@link TransportFeatures#delayedDelivery()}; default false. */
        public Builder delayedDelivery(boolean value) {
            this.delayedDelivery = value;
            return this;
        }

        /** See {@link TransportFeatures#keyOrdering()}; default false. */
        public Builder keyOrdering(boolean value) {
            this.keyOrdering = value;
            return this;
        }

        /** See {@link TransportFeatures#partitionedConsumers()}; default false. */
        public Builder partitionedConsumers(boolean value) {
            this.partitionedConsumers = value;
            return this;
        }

        /** See {@link TransportFeatures#connectionFaults()}; default false. */
        public Builder connectionFaults(boolean value) {
            this.connectionFaults = value;
            return this;
        }

        /** See {@link TransportFeatures#maxPayloadBytes()}; default {@value TransportFeatures#NO_PAYLOAD_LIMIT} (none). */
        public Builder maxPayloadBytes(int value) {
            this.maxPayloadBytes = value;
            return this;
        }

        /** See {@link TransportFeatures#leaseTimeout()}; default 2 s. */
        public Builder leaseTimeout(Duration value) {
            this.leaseTimeout = value;
            return this;
        }

        /** See {@link TransportFeatures#awaitTimeout()}; default 30 s. */
        public Builder awaitTimeout(Duration value) {
            this.awaitTimeout = value;
            return this;
        }

        /** See {@link TransportFeatures#delayTolerance()}; default 500 ms. */
        public Builder delayTolerance(Duration value) {
            this.delayTolerance = value;
            return this;
        }

        /**
         * Validates and builds.
         *
         * @throws IllegalArgumentException if the declaration is inconsistent, e.g. survivesRestart
         *                                  without persistent
         */
        public TransportFeatures build() {
            return new TransportFeatures(persistent, survivesRestart, crossProcess, consumerGroups, delayedDelivery,
                    keyOrdering, partitionedConsumers, connectionFaults, maxPayloadBytes, leaseTimeout, awaitTimeout,
                    delayTolerance);
        }
    }
}
