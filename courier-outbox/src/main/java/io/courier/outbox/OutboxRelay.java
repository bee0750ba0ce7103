package io.courier.outbox;

import io.courier.MessageOrdering;
import io.courier.Publisher;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.outbox.internal.RelayHandler;
import io.courier.spi.Settings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Delivers an {@link Outbox}'s messages to their destinations, inside the application's own
 * processes. Any number of relays may run on one outbox (one per application instance); there is no
 * leader. Each claims batches of messages with leases, so in normal operation every message is
 * published once.
 *
 * <p><b>Guarantees.</b>
 * <ul>
 *   <li>A message is marked sent (its outbox row acknowledged) only after the destination's publisher
 *       completed its future, that is after the broker's durable acknowledgement: a RabbitMQ publisher
 *       confirm, a Kafka {@code acks=all} reply, a Redis {@code XADD} reply, a database commit.</li>
 *   <li>A relay that dies between the acknowledgement and marking the message sent leaves the lease
 *       to expire ({@link Builder#leaseTimeout}); the message is then published again, with the same
 *       message id, so an idempotent consumer (the inbox, {@code JdbcIdempotentHandler}) absorbs it.</li>
 *   <li>Messages with one key reach the destination in commit order, also with several relays: a
 *       key's next message is claimed only after its previous one was acknowledged.</li>
 *   <li>A failure that may pass (broker down, no confirm in time, a nack) makes the relay try the
 *       message again after an exponential backoff ({@link Builder#retryBackoff}), for as long as it
 *       takes; it holds back the later messages of its key, not other keys. Nothing is dropped.</li>
 *   <li>A refusal for good ({@link io.courier.PublishRefusedException}: too large, unroutable,
 *       rejected) or a message the publisher rejects as invalid ({@link IllegalArgumentException}) is
 *       parked ({@link Outbox#parked()}) with its reason, and the key's later messages go on.</li>
 * </ul>
 *
 * <p>{@link #close()} stops claiming, waits up to the shutdown timeout for messages being sent, and
 * releases the rest for another relay. It does not close the destinations' publishers.
 */
public final class OutboxRelay implements AutoCloseable {

    private final List<Subscription> subscriptions;
    private final List<RelayHandler> handlers;
    private final AtomicBoolean closed = new AtomicBoolean();

    private OutboxRelay(List<Subscription> subscriptions, List<RelayHandler> handlers) {
        this.subscriptions = subscriptions;
        this.handlers = handlers;
    }

    /** Messages this relay has published and marked for acknowledgement since it started. */
    public long relayed() {
        return handlers.stream().mapToLong(RelayHandler::relayed).sum();
    }

    /** Messages this relay has parked since it started. */
    public long parked() {
        return handlers.stream().mapToLong(RelayHandler::parkedCount).sum();
    }

    /** Sends this relay has scheduled for another try after a failure that may pass, since it started. */
    public long retried() {
        return handlers.stream().mapToLong(RelayHandler::retried).sum();
    }

    /** Stops the relay: stops claiming, lets messages being sent finish (up to the shutdown timeout), releases the rest. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        RuntimeException first = null;
        for (Subscription s : subscriptions) {
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "OutboxRelay[" + handlers.size() + " destination(s), relayed " + relayed() + ", parked " + parked() + "]";
    }

    /** Configures and starts an {@link OutboxRelay}. Not thread-safe. */
    public static final class Builder {

        /** Default number of messages sent at once, per destination. */
        public static final int DEFAULT_CONCURRENCY = 64;

        private final Outbox outbox;
        private final Map<String, Publisher> destinations = new LinkedHashMap<>();
        private int concurrency = DEFAULT_CONCURRENCY;
        private Duration leaseTimeout = Duration.ofSeconds(30);
        private Duration publishTimeout = Duration.ofSeconds(30);
        private Duration minBackoff = Duration.ofMillis(200);
        private Duration maxBackoff = Duration.ofSeconds(30);
        private Duration shutdownTimeout = Duration.ofSeconds(30);

        Builder(Outbox outbox) {
            this.outbox = outbox;
        }

        /**
         * Relays the messages written with {@code outbox.to(name)} through {@code publisher}, e.g.
         * {@code kafkaTransport.publisher()}. At least one destination is required.
         */
        public Builder destination(String name, Publisher publisher) {
            Outbox.checkDestination(name);
            Objects.requireNonNull(publisher, "publisher");
            if (destinations.putIfAbsent(name, publisher) != null) {
                throw new IllegalArgumentException("destination '" + name + "' is configured twice");
            }
            return this;
        }

        /**
         * How many messages of one destination are being sent at once (default
         * {@value #DEFAULT_CONCURRENCY}); each waits for its acknowledgement on a thread. At most one
         * per key.
         */
        public Builder concurrency(int concurrency) {
            this.concurrency = Settings.between(concurrency, 1, SubscriptionOptions.MAX_CONCURRENCY, "concurrency");
            return this;
        }

        /**
         * How long a relay's claim on a message lasts without renewal (default 30 s; renewed while
         * the relay lives). After a relay dies, its messages are sent by another relay after this.
         */
        public Builder leaseTimeout(Duration leaseTimeout) {
            this.leaseTimeout = Settings.between(leaseTimeout, SubscriptionOptions.MIN_LEASE_TIMEOUT,
                    SubscriptionOptions.MAX_TIMEOUT, "leaseTimeout");
            return this;
        }

        /**
         * How long to wait for a destination's acknowledgement before trying again (default 30 s).
         * A message whose acknowledgement did not come may have been stored: trying again can publish
         * it twice, which idempotent consumers absorb.
         */
        public Builder publishTimeout(Duration publishTimeout) {
            this.publishTimeout = Settings.between(publishTimeout, Duration.ofMillis(1), SubscriptionOptions.MAX_TIMEOUT,
                    "publishTimeout");
            return this;
        }

        /** The wait before trying a failed send again: {@code min} after the first failure, doubling up to {@code max}. */
        public Builder retryBackoff(Duration min, Duration max) {
            Settings.between(min, Duration.ZERO, SubscriptionOptions.MAX_TIMEOUT, "min");
            Settings.between(max, min, SubscriptionOptions.MAX_TIMEOUT, "max");
            this.minBackoff = min;
            this.maxBackoff = max;
            return this;
        }

        /** How long {@link OutboxRelay#close()} waits for messages being sent (default 30 s). */
        public Builder shutdownTimeout(Duration shutdownTimeout) {
            this.shutdownTimeout = Settings.between(shutdownTimeout, Duration.ZERO, SubscriptionOptions.MAX_TIMEOUT,
                    "shutdownTimeout");
            return this;
        }

        /**
         * Starts relaying every destination. If one cannot start, those already started are closed.
         *
         * @throws IllegalStateException when no destination was configured
         */
        public OutboxRelay start() {
            if (destinations.isEmpty()) {
                throw new IllegalStateException("an outbox relay needs at least one destination: call destination(name, publisher)");
            }
            List<Subscription> subscriptions = new ArrayList<>();
            List<RelayHandler> handlers = new ArrayList<>();
            try {
                for (Map.Entry<String, Publisher> d : destinations.entrySet()) {
                    String topic = outbox.topicOf(d.getKey());
                    outbox.to(d.getKey());   // creates the relay's group, as a writer does
                    RelayHandler handler = new RelayHandler(d.getKey(), d.getValue(), outbox.parkingTable(),
                            publishTimeout, minBackoff, maxBackoff, outbox.transport().clock());
                    SubscriptionOptions options = SubscriptionOptions.builder(topic, Outbox.RELAY_GROUP)
                            .concurrency(concurrency)
                            .maxInFlight(Math.max(concurrency, Math.min(SubscriptionOptions.MAX_IN_FLIGHT, concurrency * 2)))
                            .leaseTimeout(leaseTimeout)
                            .shutdownTimeout(shutdownTimeout)
                            .startPosition(StartPosition.EARLIEST)
                            .ordering(MessageOrdering.KEY)
                            .consumerName("outbox-relay-" + d.getKey())
                            .build();
                    subscriptions.add(outbox.transport().subscriber().subscribe(options, handler));
                    handlers.add(handler);
                }
            } catch (RuntimeException e) {
                for (Subscription s : subscriptions) {
                    try {
                        s.close();
                    } catch (RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
            return new OutboxRelay(List.copyOf(subscriptions), List.copyOf(handlers));
        }
    }
}
