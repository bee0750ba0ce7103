package io.courier.outbox.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.courier.Message;
import io.courier.jdbc.JdbcTransport;
import io.courier.jdbc.JdbcTransportException;
import io.courier.outbox.ParkedMessage;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import javax.sql.DataSource;

/**
 * The SQL of table {@code <prefix>outbox_parked}: one row per (destination, message id) that a
 * destination refused for good. Parking the same message again (after a crash between parking and
 * acknowledging it on the outbox topic) updates the row instead of adding one.
 */
public final class ParkingTable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<TreeMap<String, String>> HEADERS = new TypeReference<>() { };
    private static final String COLUMNS = "id, destination, topic, message_id, msg_key, headers, payload, timestamp_ns,"
            + " reason, error_class, attempts, parked_at";

    private final JdbcTransport transport;
    private final DataSource ds;
    private final String table;

    private ParkingTable(JdbcTransport transport) {
        this.transport = transport;
        this.ds = transport.dataSource();
        this.table = transport.tablePrefix() + "outbox_parked";
    }

    /** Opens the table of {@code transport}'s database, creating it when missing. */
    public static ParkingTable open(JdbcTransport transport) {
        ParkingTable t = new ParkingTable(transport);
        try {
            OutboxSchema.migrate(transport);
        } catch (SQLException e) {
            throw new JdbcTransportException(JdbcTransportException.Reason.SCHEMA,
                    "creating or upgrading table " + t.table + " of the outbox in " + transport + " failed: " + e.getMessage(), e);
        }
        return t;
    }

    /** Parks {@code message} of {@code destination}, or refreshes its reason when it is parked already. */
    public void park(String destination, String topic, Message message, String reason, String errorClass, int attempts) {
        run("parking message " + message.id(), c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " (destination, topic, message_id, msg_key,"
                    + " headers, payload, timestamp_ns, reason, error_class, attempts, parked_at)"
                    + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (destination, message_id) DO UPDATE SET"
                    + " topic = excluded.topic, reason = excluded.reason, error_class = excluded.error_class,"
                    + " attempts = excluded.attempts, parked_at = excluded.parked_at")) {
                ps.setString(1, destination);
                ps.setString(2, topic);
                ps.setString(3, message.id());
                if (message.key().isPresent()) {
                    ps.setString(4, message.key().get());
                } else {
                    ps.setNull(4, Types.VARCHAR);
                }
                ps.setString(5, JSON.writeValueAsString(message.headers()));
                ps.setBytes(6, message.payload());
                Instant ts = message.timestamp();
                ps.setLong(7, Math.addExact(Math.multiplyExact(ts.getEpochSecond(), 1_000_000_000L), ts.getNano()));
                ps.setString(8, reason);
                ps.setString(9, errorClass);
                ps.setInt(10, attempts);
                ps.setLong(11, transport.clock().millis());
                ps.executeUpdate();
            }
            return null;
        });
    }

    /** Parked messages of {@code destination} (all when null) with ids above {@code afterId}, oldest first. */
    public List<ParkedMessage> list(String destination, long afterId, int limit) {
        return run("listing parked messages", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table
                    + " WHERE id > ?" + (destination == null ? "" : " AND destination = ?") + " ORDER BY id LIMIT ?")) {
                int i = 1;
                ps.setLong(i++, afterId);
                if (destination != null) {
                    ps.setString(i++, destination);
                }
                ps.setInt(i, limit);
                List<ParkedMessage> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(read(rs));
                    }
                }
                return out;
            }
        });
    }

    /** The parked message with row id {@code id}. */
    public Optional<ParkedMessage> find(long id) {
        return run("reading parked message " + id, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + table + " WHERE id = ?")) {
                ps.setLong(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(read(rs)) : Optional.<ParkedMessage>empty();
                }
            }
        });
    }

    /** How many messages of {@code destination} (all when null) are parked. */
    public long count(String destination) {
        return run("counting parked messages", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + table
                    + (destination == null ? "" : " WHERE destination = ?"))) {
                if (destination != null) {
                    ps.setString(1, destination);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    /** The destinations that have parked messages. */
    public List<String> destinations() {
        return run("listing destinations with parked messages", c -> {
            List<String> out = new ArrayList<>();
            try (Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT DISTINCT destination FROM " + table)) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        });
    }

    /**
     * Deletes row {@code id} in {@code c}'s transaction and returns what it held, or empty when no
     * such row exists (another operator took it).
     */
    public Optional<ParkedMessage> take(Connection c, long id) throws SQLException {
        Optional<ParkedMessage> found;
        // The DELETE comes first: on SQLite it takes the write lock before anything is read.
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE id = ? RETURNING " + COLUMNS)) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                found = rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
        return found;
    }

    /** Runs {@code work} in a transaction of its own on a pooled connection. */
    public <T> T inTransaction(String what, SqlWork<T> work) {
        return run(what, work);
    }

    private ParkedMessage read(ResultSet rs) throws SQLException {
        Message.Builder m = Message.builder().id(rs.getString("message_id"));
        String key = rs.getString("msg_key");
        if (key != null) {
            m.key(key);
        }
        try {
            m.headers(JSON.readValue(rs.getString("headers"), HEADERS));
        } catch (JsonProcessingException e) {
            throw new SQLException("headers of parked row " + rs.getLong("id") + " are not valid JSON: " + e.getMessage(), e);
        }
        long ns = rs.getLong("timestamp_ns");
        m.timestamp(Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L)));
        m.payload(rs.getBytes("payload"));
        return new ParkedMessage(rs.getLong("id"), rs.getString("destination"), rs.getString("topic"), m.build(),
                rs.getString("reason"), rs.getString("error_class"), rs.getInt("attempts"),
                Instant.ofEpochMilli(rs.getLong("parked_at")));
    }

    private <T> T run(String what, SqlWork<T> work) {
        try (Connection c = ds.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (Exception | Error e) {
                try {
                    c.rollback();
                } catch (SQLException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        } catch (JdbcTransportException | IllegalArgumentException e) {
            throw e;
        } catch (Exception e) {
            throw new JdbcTransportException(JdbcTransportException.Reason.DATABASE,
                    what + " in the outbox of " + transport + " failed: " + e.getMessage(), e);
        }
    }

    /** Work on a connection inside a transaction. */
    @FunctionalInterface
    public interface SqlWork<T> {
        /** Does the work. */
        T run(Connection c) throws Exception;
    }
}
