package io.courier.saga.internal;

import io.courier.saga.SagaEvent;
import io.courier.saga.SagaInstance;
import io.courier.saga.SagaReply;
import io.courier.saga.SagaState;
import io.courier.sql.DatabaseKind;
import io.courier.sql.Migration;
import io.courier.sql.Migrator;
import io.courier.sql.TablePrefix;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The saga tables: {@code <prefix>sagas} (one row per saga, with a version), {@code <prefix>saga_log}
 * (the timeline) and {@code <prefix>saga_replies} (replies of transactional participants, by command
 * key). Every method works on the connection it is given.
 */
public final class SagaStore {

    private static final String COLUMNS = "id, type, state, step, compensating, attempt, awaiting, wake_at, data, version,"
            + " reason, created_at, updated_at";

    private final DatabaseKind kind;
    private final String sagas;
    private final String log;
    private final String replies;

    private SagaStore(DatabaseKind kind, TablePrefix prefix) {
        this.kind = kind;
        this.sagas = prefix.name("sagas");
        this.log = prefix.name("saga_log");
        this.replies = prefix.name("saga_replies");
    }

    /** Opens (creating or upgrading) the saga tables under {@code prefix} in {@code dataSource}'s database. */
    public static SagaStore open(DataSource dataSource, String prefix) throws SQLException {
        DatabaseKind kind;
        try (Connection c = dataSource.getConnection()) {
            kind = DatabaseKind.detect(c);
        }
        TablePrefix p = new TablePrefix(prefix);
        SagaStore store = new SagaStore(kind, p);
        Migrator.forTable(dataSource, kind, p, "saga_schema").apply(store.migrations());
        return store;
    }

    /** The database kind. */
    public DatabaseKind kind() {
        return kind;
    }

    private List<Migration> migrations() {
        String blob = kind.blobType();
        return List.of(new Migration(1, "sagas, their step log and participants' replies", List.of(
                "CREATE TABLE " + sagas + " (id VARCHAR(64) PRIMARY KEY, type VARCHAR(100) NOT NULL, state VARCHAR(24) NOT NULL,"
                        + " step INTEGER NOT NULL, compensating INTEGER NOT NULL, attempt INTEGER NOT NULL,"
                        + " awaiting INTEGER NOT NULL, wake_at BIGINT, data " + blob + " NOT NULL, version BIGINT NOT NULL,"
                        + " reason TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
                "CREATE INDEX " + sagas + "_wake ON " + sagas + " (wake_at)",
                "CREATE INDEX " + sagas + "_type_state ON " + sagas + " (type, state, created_at)",
                "CREATE TABLE " + log + " (id " + kind.autoIncrementPrimaryKey() + ", saga_id VARCHAR(64) NOT NULL,"
                        + " at BIGINT NOT NULL, step INTEGER NOT NULL, step_name VARCHAR(100) NOT NULL,"
                        + " compensating INTEGER NOT NULL, attempt INTEGER NOT NULL, event VARCHAR(32) NOT NULL, detail TEXT NOT NULL)",
                "CREATE INDEX " + log + "_saga ON " + log + " (saga_id, id)",
                "CREATE TABLE " + replies + " (command_key VARCHAR(300) PRIMARY KEY, outcome VARCHAR(16) NOT NULL,"
                        + " reason TEXT NOT NULL, payload " + blob + " NOT NULL, created_at BIGINT NOT NULL)")));
    }

    /** Inserts a new saga. */
    public void insert(Connection c, SagaRow r) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + sagas + " (" + COLUMNS + ") VALUES"
                + " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            int i = 1;
            ps.setString(i++, r.id);
            ps.setString(i++, r.type);
            i = bindMutable(ps, i, r);
            ps.setLong(i++, r.version);
            ps.setString(i++, r.reason);
            ps.setLong(i++, r.createdAt);
            ps.setLong(i, r.updatedAt);
            ps.executeUpdate();
        }
    }

    /**
     * Locks saga {@code id} for the rest of {@code c}'s transaction and reads it. The lock is taken
     * by a write, so on SQLite the transaction holds the write lock before it reads anything.
     */
    public Optional<SagaRow> lock(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + sagas + " SET version = version WHERE id = ?")) {
            ps.setString(1, id);
            if (ps.executeUpdate() == 0) {
                return Optional.empty();
            }
        }
        return find(c, id);
    }

    /** Reads saga {@code id}. */
    public Optional<SagaRow> find(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + sagas + " WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(read(rs)) : Optional.empty();
            }
        }
    }

    /** Writes {@code r} back, with its version incremented; fails when someone else changed it meanwhile. */
    public void update(Connection c, SagaRow r) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + sagas + " SET state = ?, step = ?, compensating = ?,"
                + " attempt = ?, awaiting = ?, wake_at = ?, data = ?, version = version + 1, reason = ?, updated_at = ?"
                + " WHERE id = ? AND version = ?")) {
            int i = bindMutable(ps, 1, r);
            ps.setString(i++, r.reason);
            ps.setLong(i++, r.updatedAt);
            ps.setString(i++, r.id);
            ps.setLong(i, r.version);
            if (ps.executeUpdate() != 1) {
                throw new SQLException("saga " + r.id + " was changed by another orchestrator (version " + r.version + ")");
            }
            r.version++;
        }
    }

    private static int bindMutable(PreparedStatement ps, int i, SagaRow r) throws SQLException {
        ps.setString(i++, r.state.name());
        ps.setInt(i++, r.step);
        ps.setInt(i++, r.compensating ? 1 : 0);
        ps.setInt(i++, r.attempt);
        ps.setInt(i++, r.awaiting ? 1 : 0);
        if (r.wakeAt == null) {
            ps.setNull(i++, Types.BIGINT);
        } else {
            ps.setLong(i++, r.wakeAt);
        }
        ps.setBytes(i++, r.data);
        return i;
    }

    /** Appends to the saga's timeline. */
    public void log(Connection c, String sagaId, long at, int step, String stepName, boolean compensating, int attempt,
                    SagaEvent.Kind event, String detail) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + log + " (saga_id, at, step, step_name, compensating,"
                + " attempt, event, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, sagaId);
            ps.setLong(2, at);
            ps.setInt(3, step);
            ps.setString(4, stepName);
            ps.setInt(5, compensating ? 1 : 0);
            ps.setInt(6, attempt);
            ps.setString(7, event.name());
            ps.setString(8, detail == null ? "" : detail);
            ps.executeUpdate();
        }
    }

    /** Ids of up to {@code limit} sagas whose wake-up time has come, the earliest first. */
    public List<String> due(Connection c, long now, int limit) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM " + sagas + " WHERE wake_at <= ? ORDER BY wake_at LIMIT ?")) {
            ps.setLong(1, now);
            ps.setInt(2, limit);
            List<String> ids = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            return ids;
        }
    }

    /** The earliest wake-up time, if any saga has one. */
    public Optional<Long> nextWake(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT MIN(wake_at) FROM " + sagas);
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            long v = rs.getLong(1);
            return rs.wasNull() ? Optional.empty() : Optional.of(v);
        }
    }

    /** Sagas of {@code type} (any when null) in {@code state} (any when null), newest first. */
    public List<SagaRow> list(Connection c, String type, SagaState state, int limit) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT " + COLUMNS + " FROM " + sagas + " WHERE 1 = 1");
        if (type != null) {
            sql.append(" AND type = ?");
        }
        if (state != null) {
            sql.append(" AND state = ?");
        }
        sql.append(" ORDER BY created_at DESC, id LIMIT ?");
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            int i = 1;
            if (type != null) {
                ps.setString(i++, type);
            }
            if (state != null) {
                ps.setString(i++, state.name());
            }
            ps.setInt(i, limit);
            List<SagaRow> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(read(rs));
                }
            }
            return out;
        }
    }

    /** How many sagas of {@code type} (any when null) are in {@code state}. */
    public long count(Connection c, String type, SagaState state) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + sagas + " WHERE state = ?"
                + (type == null ? "" : " AND type = ?"))) {
            ps.setString(1, state.name());
            if (type != null) {
                ps.setString(2, type);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /** The timeline of saga {@code id}, oldest first. */
    public List<SagaEvent> timeline(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT at, step, step_name, compensating, attempt, event, detail FROM "
                + log + " WHERE saga_id = ? ORDER BY id")) {
            ps.setString(1, id);
            List<SagaEvent> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new SagaEvent(Instant.ofEpochMilli(rs.getLong(1)), rs.getInt(2), rs.getString(3), rs.getInt(4) == 1,
                            rs.getInt(5), SagaEvent.Kind.valueOf(rs.getString(6)), rs.getString(7)));
                }
            }
            return out;
        }
    }

    /**
     * Claims {@code key} for a participant's first handling: true when this transaction inserted the
     * placeholder (it must then {@link #storeReply}); false when a reply is stored already (a
     * concurrent duplicate waits for the first transaction's outcome on the unique key).
     */
    public boolean claimReply(Connection c, String key, long now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + replies + " (command_key, outcome, reason, payload,"
                + " created_at) VALUES (?, 'PENDING', '', ?, ?) ON CONFLICT (command_key) DO NOTHING")) {
            ps.setString(1, key);
            ps.setBytes(2, new byte[0]);
            ps.setLong(3, now);
            return ps.executeUpdate() == 1;
        }
    }

    /** Stores the reply of {@code key}. */
    public void storeReply(Connection c, String key, SagaReply reply) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + replies + " SET outcome = ?, reason = ?, payload = ?"
                + " WHERE command_key = ?")) {
            ps.setString(1, reply.outcome().name());
            ps.setString(2, reply.reason());
            ps.setBytes(3, reply.payload());
            ps.setString(4, key);
            ps.executeUpdate();
        }
    }

    /** The stored reply of {@code key}. */
    public Optional<SagaReply> storedReply(Connection c, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT outcome, reason, payload FROM " + replies + " WHERE command_key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next() || rs.getString(1).equals("PENDING")) {
                    return Optional.empty();
                }
                return Optional.of(SagaReply.of(SagaReply.Outcome.valueOf(rs.getString(1)), rs.getString(2), rs.getBytes(3)));
            }
        }
    }

    /** The row as an operator sees it. */
    public static SagaInstance toInstance(SagaRow r, String stepName) {
        return new SagaInstance(r.id, r.type, r.state, r.step, Optional.ofNullable(stepName), r.compensating, r.attempt, r.awaiting,
                Optional.ofNullable(r.wakeAt).map(Instant::ofEpochMilli), r.data, r.version, Optional.ofNullable(r.reason),
                Instant.ofEpochMilli(r.createdAt), Instant.ofEpochMilli(r.updatedAt));
    }

    private static SagaRow read(ResultSet rs) throws SQLException {
        SagaRow r = new SagaRow();
        r.id = rs.getString(1);
        r.type = rs.getString(2);
        r.state = SagaState.valueOf(rs.getString(3));
        r.step = rs.getInt(4);
        r.compensating = rs.getInt(5) == 1;
        r.attempt = rs.getInt(6);
        r.awaiting = rs.getInt(7) == 1;
        long wake = rs.getLong(8);
        r.wakeAt = rs.wasNull() ? null : wake;
        r.data = rs.getBytes(9);
        r.version = rs.getLong(10);
        r.reason = rs.getString(11);
        r.createdAt = rs.getLong(12);
        r.updatedAt = rs.getLong(13);
        return r;
    }
}
