package io.courier.outbox;

import io.courier.StartPosition;
import io.courier.jdbc.GroupBacklog;
import io.courier.jdbc.JdbcPublisher;
import io.courier.jdbc.JdbcTransport;
import io.courier.outbox.internal.OutboxWriter;
import io.courier.outbox.internal.ParkingTable;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * A transactional outbox in the application's own SQLite or PostgreSQL database: messages for any
 * broker are written in the caller's transaction and exist if and only if it commits; an
 * {@link OutboxRelay}, running in the application's processes, delivers them to their broker and
 * marks them sent only after the broker's durable acknowledgement.
 *
 * <pre>{@code
 * Outbox outbox = Outbox.builder(sqlTransport).build();          // the database with your tables
 * JdbcPublisher toKafka = outbox.to("kafka");                    // a destination, by name
 * try (Connection tx = sqlTransport.dataSource().getConnection()) {
 *     tx.setAutoCommit(false);
 *     insertOrder(tx, order);
 *     toKafka.publish(tx, "order.created", Message.builder().key(order.id()).payload(json).build());
 *     tx.commit();                                               // the order and the message, or neither
 * }
 * try (OutboxRelay relay = outbox.relay().destination("kafka", kafka.publisher()).start()) { ... }
 * }</pre>
 *
 * <p><b>Where messages live.</b> The outbox is built on the {@link JdbcTransport}: the messages for
 * destination {@code d} are messages of topic {@code courier.outbox.d} (see
 * {@link Builder#topicPrefix}), with the destination topic in header {@link #TOPIC_HEADER}, and the
 * relay is consumer group {@code courier-outbox-relay} of that topic. So the outbox has what the SQL
 * transport has: claims that never skip a transaction that commits late (there is no position to
 * pass it), leases, {@code LISTEN/NOTIFY} wake-ups on PostgreSQL, retention and cleanup in batches.
 * Messages the destination refuses for good are parked in table {@code <prefix>outbox_parked} (see
 * {@link #parked()}).
 *
 * <p><b>Order.</b> The messages of one key reach the destination in the order their transactions
 * committed: on PostgreSQL a writer of a keyed message holds a transaction-scoped advisory lock on
 * (destination, key) until it commits, so row order is commit order for each key (two transactions
 * writing the same keys in opposite orders can then deadlock; PostgreSQL aborts one of them, which
 * the application retries); on SQLite writers are serial anyway. The relay sends a key's next
 * message only after the broker acknowledged the previous one. Messages without a key have no order.
 *
 * <p>Thread-safe. An outbox holds no resources of its own; closing the transport ends it.
 */
public final class Outbox {

    /** The header that carries the destination topic of an outbox message. Removed before relaying. */
    public static final String TOPIC_HEADER = "courier-outbox-topic";

    /** The default prefix of outbox topics: destination {@code kafka} is topic {@code courier.outbox.kafka}. */
    public static final String DEFAULT_TOPIC_PREFIX = "courier.outbox.";

    /** The consumer group of the relay on every outbox topic. */
    public static final String RELAY_GROUP = "courier-outbox-relay";

    private static final Pattern DESTINATION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    private final JdbcTransport transport;
    private final String topicPrefix;
    private final ParkingTable parking;
    private final Map<String, JdbcPublisher> writers = new ConcurrentHashMap<>();

    private Outbox(Builder b) {
        this.transport = b.transport;
        this.topicPrefix = b.topicPrefix;
        this.parking = ParkingTable.open(transport);
    }

    /** Starts configuring an outbox in the database of {@code transport}. */
    public static Builder builder(JdbcTransport transport) {
        return new Builder(transport);
    }

    /**
     * The writer for {@code destination}: {@code publish(tx, topic, message)} stores the message in
     * {@code tx} for topic {@code topic} of that destination, with its id, key, headers, timestamp
     * and, for {@code publishAt}, delivery time (the relay holds it until then). The first call for a
     * destination creates the relay's consumer group of its outbox topic (in a transaction of its
     * own), so that messages written before any relay ran are kept for it.
     *
     * @param destination the name a relay knows the destination by: letters, digits, {@code . _ -},
     *                    up to 100 characters, e.g. {@code kafka} or {@code billing-rabbitmq}
     * @throws IllegalArgumentException when the name is not valid
     * @throws io.courier.jdbc.JdbcTransportException when the group cannot be created
     */
    public JdbcPublisher to(String destination) {
        checkDestination(destination);
        return writers.computeIfAbsent(destination, d -> {
            transport.declareGroup(topicOf(d), RELAY_GROUP, StartPosition.EARLIEST);
            return new OutboxWriter(transport, topicOf(d), d);
        });
    }

    /** Starts configuring a relay for this outbox. */
    public OutboxRelay.Builder relay() {
        return new OutboxRelay.Builder(this);
    }

    /** Messages that a destination refused for good, for operators: list, retry, discard. */
    public ParkedMessages parked() {
        return new ParkedMessages(this, parking);
    }

    /**
     * How far behind the relay is for {@code destination}: unsent messages, the age of the oldest,
     * and the parked count. Cheap enough for a health check (one pass over the destination's unsent
     * rows, one indexed count).
     *
     * @throws IllegalArgumentException when the name is not valid
     */
    public OutboxStatus status(String destination) {
        checkDestination(destination);
        Optional<GroupBacklog> backlog = transport.backlog(topicOf(destination), RELAY_GROUP);
        long parked = parking.count(destination);
        Instant now = transport.clock().instant();
        return backlog.map(b -> new OutboxStatus(destination, b.pending(), b.inFlight(), b.oldestDueAt(), b.lag(), parked,
                        b.measuredAt()))
                .orElseGet(() -> new OutboxStatus(destination, 0, 0, Optional.empty(), Duration.ZERO, parked, now));
    }

    /**
     * The status of every destination this outbox has written to, relayed or parked in this process,
     * sorted by name.
     */
    public List<OutboxStatus> status() {
        Set<String> names = new TreeSet<>(writers.keySet());
        names.addAll(parking.destinations());
        List<OutboxStatus> all = new ArrayList<>();
        for (String name : names) {
            all.add(status(name));
        }
        return all;
    }

    /** The SQL transport whose database holds the outbox. */
    public JdbcTransport transport() {
        return transport;
    }

    ParkingTable parkingTable() {
        return parking;
    }

    /** The outbox topic of {@code destination}. */
    public String topicOf(String destination) {
        checkDestination(destination);
        return topicPrefix + destination;
    }

    static void checkDestination(String destination) {
        Objects.requireNonNull(destination, "destination");
        if (!DESTINATION.matcher(destination).matches()) {
            throw new IllegalArgumentException("destination must be letters, digits, '.', '_' or '-' (up to 100, starting"
                    + " with a letter or digit), but was '" + destination + "'");
        }
    }

    @Override
    public String toString() {
        return "Outbox[" + transport.name() + ", topics " + topicPrefix + "*]";
    }

    /** Configures an {@link Outbox}. Not thread-safe. */
    public static final class Builder {

        private final JdbcTransport transport;
        private String topicPrefix = DEFAULT_TOPIC_PREFIX;

        private Builder(JdbcTransport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
        }

        /**
         * The prefix of the outbox topics (default {@value #DEFAULT_TOPIC_PREFIX}); two outboxes in one
         * database with different prefixes do not see each other's messages.
         */
        public Builder topicPrefix(String topicPrefix) {
            Objects.requireNonNull(topicPrefix, "topicPrefix");
            if (topicPrefix.isBlank() || topicPrefix.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("topicPrefix must be non-empty without whitespace, but was '"
                        + topicPrefix + "'");
            }
            this.topicPrefix = topicPrefix;
            return this;
        }

        /**
         * Opens the outbox: creates or upgrades table {@code <prefix>outbox_parked}.
         *
         * @throws io.courier.jdbc.JdbcTransportException when the database refuses
         */
        public Outbox build() {
            return new Outbox(this);
        }
    }
}
