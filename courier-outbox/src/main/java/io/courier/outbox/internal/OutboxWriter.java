package io.courier.outbox.internal;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.jdbc.JdbcPublisher;
import io.courier.jdbc.JdbcTransport;
import io.courier.outbox.Outbox;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Writes messages for one destination into its outbox topic, in the caller's transaction, through
 * the SQL transport's transactional publisher. On PostgreSQL it first takes a transaction-scoped
 * advisory lock per (destination, key) of the keyed messages, in ascending lock order, so that two
 * transactions writing one key get their rows in the order they commit.
 */
public final class OutboxWriter implements JdbcPublisher {

    private final JdbcPublisher rows;
    private final String outboxTopic;
    private final String destination;
    private final boolean keyLocks;
    private final long lockSeed;

    /** A writer of destination {@code destination}, whose outbox topic is {@code outboxTopic}. */
    public OutboxWriter(JdbcTransport transport, String outboxTopic, String destination) {
        this.rows = transport.transactionalPublisher();
        this.outboxTopic = outboxTopic;
        this.destination = destination;
        this.keyLocks = "postgresql".equals(transport.name());
        this.lockSeed = KeyHash.of(transport.tablePrefix() + '\u0000' + outboxTopic);
    }

    @Override
    public PublishResult publish(Connection transaction, String topic, Message message) {
        return publishAt(transaction, topic, message, null);
    }

    @Override
    public PublishResult publishAt(Connection transaction, String topic, Message message, Instant deliverAt) {
        Objects.requireNonNull(message, "message");
        return write(transaction, topic, List.of(message), deliverAt).get(0);
    }

    @Override
    public List<PublishResult> publishAll(Connection transaction, String topic, List<Message> messages) {
        return write(transaction, topic, messages, null);
    }

    private List<PublishResult> write(Connection tx, String topic, List<Message> messages, Instant deliverAt) {
        Objects.requireNonNull(tx, "transaction");
        Objects.requireNonNull(messages, "messages");
        requireTopic(topic);
        if (messages.isEmpty()) {
            return List.of();
        }
        List<Message> stored = new ArrayList<>(messages.size());
        TreeSet<Long> locks = new TreeSet<>();
        for (Message m : messages) {
            Objects.requireNonNull(m, "message");
            stored.add(m.withHeader(Outbox.TOPIC_HEADER, topic));
            if (keyLocks && m.key().isPresent()) {
                locks.add(KeyHash.mix(lockSeed, m.key().get()));
            }
        }
        try {
            boolean autoCommit = tx.getAutoCommit();
            if (autoCommit) {
                tx.setAutoCommit(false);
            }
            try {
                lock(tx, locks);
                List<PublishResult> ids = deliverAt == null || stored.size() != 1
                        ? rows.publishAll(tx, outboxTopic, stored)
                        : List.of(rows.publishAt(tx, outboxTopic, stored.get(0), deliverAt));
                if (autoCommit) {
                    tx.commit();
                }
                List<PublishResult> results = new ArrayList<>(ids.size());
                for (PublishResult r : ids) {
                    results.add(PublishResult.of(r.messageId(), topic, r.position().orElse(null)));
                }
                return results;
            } catch (SQLException | RuntimeException e) {
                if (autoCommit) {
                    tx.rollback();
                }
                throw e;
            } finally {
                if (autoCommit) {
                    tx.setAutoCommit(true);
                }
            }
        } catch (SQLException e) {
            throw new PublishException(topic, "writing " + messages.size() + " message(s) for topic '" + topic
                    + "' of destination '" + destination + "' to the outbox failed: " + e.getMessage(), e);
        }
    }

    private static void lock(Connection tx, TreeSet<Long> locks) throws SQLException {
        if (locks.isEmpty()) {
            return;
        }
        // In ascending order (unnest keeps the array order): writers whose calls lock overlapping key sets
        // never wait on each other in a cycle.
        try (PreparedStatement ps = tx.prepareStatement("SELECT pg_advisory_xact_lock(k) FROM unnest(?::bigint[]) AS k")) {
            ps.setArray(1, tx.createArrayOf("bigint", locks.toArray(new Long[0])));
            ps.executeQuery().close();
        }
    }

    private static void requireTopic(String topic) {
        Objects.requireNonNull(topic, "topic");
        if (topic.isBlank()) {
            throw new IllegalArgumentException("topic must not be blank");
        }
    }
}
