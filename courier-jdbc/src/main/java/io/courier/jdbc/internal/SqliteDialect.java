package io.courier.jdbc.internal;

import io.courier.sql.DatabaseKind;
import io.courier.sql.Migration;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * SQLite: one writer at a time for the whole file. Write transactions start with
 * {@code BEGIN IMMEDIATE}, so a transaction holds the write lock from its first statement and never
 * fails half-way to upgrade a read lock; other processes wait up to the busy timeout. Because
 * writers are serialised, no extra locking is needed between publishers, group registrations and
 * the cleaner, and the row ids one transaction inserts are contiguous.
 *
 * <p>The only classes of this module that link against sqlite-jdbc are this one and what it creates;
 * they are loaded only for a SQLite database, after {@link DatabaseKind#requireDriver} found the driver.
 */
public final class SqliteDialect extends SqlDialect {

    private final StatementCache statements = new StatementCache(SQLiteConnection.class);

    @Override
    Prepared prepare(Connection c, String sql) throws SQLException {
        return statements.prepare(c, sql);
    }

    /**
     * Full chunks, then the rest in powers of two (32, 16, ... 1 rows): seven statement shapes in all,
     * each compiled once per connection, instead of a new shape for every batch size.
     */
    @Override
    int insertChunk(int remaining) {
        return remaining >= INSERT_CHUNK ? INSERT_CHUNK : Integer.highestOneBit(remaining);
    }

    @Override
    public DatabaseKind kind() {
        return DatabaseKind.SQLITE;
    }

    @Override
    public List<Migration> migrations(Tables t) {
        return List.of(new Migration(1, "messages, groups, deliveries, processed", List.of(
                "CREATE TABLE " + t.messages() + " ("
                        + "id INTEGER PRIMARY KEY, "
                        + "topic TEXT NOT NULL, "
                        + "message_id TEXT NOT NULL, "
                        + "msg_key TEXT, "
                        + "headers TEXT, "
                        + "payload BLOB NOT NULL, "
                        + "timestamp_ns INTEGER NOT NULL, "
                        + "created_at INTEGER NOT NULL, "
                        + "deliver_at INTEGER NOT NULL)",
                "CREATE TABLE " + t.groups() + " ("
                        + "id INTEGER PRIMARY KEY, "
                        + "topic TEXT NOT NULL, "
                        + "name TEXT NOT NULL, "
                        + "start_position TEXT NOT NULL, "
                        + "created_at INTEGER NOT NULL, "
                        + "UNIQUE (topic, name))",
                "CREATE TABLE " + t.deliveries() + " ("
                        + "group_id INTEGER NOT NULL, "
                        + "message_row INTEGER NOT NULL, "
                        + "visible_at INTEGER NOT NULL, "
                        + "attempts INTEGER NOT NULL, "
                        + "lease_owner INTEGER, "
                        + "headers TEXT, "
                        + "PRIMARY KEY (group_id, message_row)) WITHOUT ROWID",
                "CREATE INDEX " + t.deliveries() + "_visible ON " + t.deliveries() + " (group_id, visible_at, message_row)",
                "CREATE TABLE " + t.processed() + " ("
                        + "consumer TEXT NOT NULL, "
                        + "message_id TEXT NOT NULL, "
                        + "processed_at INTEGER NOT NULL, "
                        + "PRIMARY KEY (consumer, message_id)) WITHOUT ROWID",
                "CREATE INDEX " + t.processed() + "_age ON " + t.processed() + " (processed_at)")),
                new Migration(2, "per-key ordering: message keys on deliveries", List.of(
                        "ALTER TABLE " + t.deliveries() + " ADD COLUMN msg_key TEXT",
                        "UPDATE " + t.deliveries() + " SET msg_key = (SELECT m.msg_key FROM " + t.messages()
                                + " m WHERE m.id = message_row)",
                        // The claim scan reads msg_key from the index it walks, so keep it covering.
                        "DROP INDEX " + t.deliveries() + "_visible",
                        "CREATE INDEX " + t.deliveries() + "_visible ON " + t.deliveries()
                                + " (group_id, visible_at, message_row, msg_key)",
                        "CREATE INDEX " + t.deliveries() + "_key ON " + t.deliveries()
                                + " (group_id, msg_key, message_row) WHERE msg_key IS NOT NULL")),
                idempotencyKeysMigration(t, " WITHOUT ROWID"));
    }

    /** Milliseconds since the epoch by the clock of the machine the file is on ({@code 'now'} is fixed per statement). */
    @Override
    public String nowMillis() {
        return "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    }

    // DatabaseKind.SQLITE's three statements, kept prepared per connection: every write transaction runs two.

    @Override
    public void begin(Connection c) throws SQLException {
        try (Prepared p = prepare(c, "BEGIN IMMEDIATE")) {
            p.statement().execute();
        }
    }

    @Override
    public void commit(Connection c) throws SQLException {
        try (Prepared p = prepare(c, "COMMIT")) {
            p.statement().execute();
        }
    }

    @Override
    public void rollback(Connection c) throws SQLException {
        try (Prepared p = prepare(c, "ROLLBACK")) {
            p.statement().execute();
        }
    }

    /** Inserts the messages, then fans them out with one statement; inside a write transaction only. */
    @Override
    public long[] publish(Connection c, Tables t, String topic, List<OutgoingMessage> messages, long now)
            throws SQLException {
        long[] ids = insertMessages(c, t, topic, messages, now);
        fanOut(c, t, topic, ids);
        return ids;
    }

    private void fanOut(Connection c, Tables t, String topic, long[] rowIds) throws SQLException {
        // The transaction holds the write lock, so its inserted ids are exactly the range [first, last]
        // for this topic: one statement fans the whole batch out.
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        for (long id : rowIds) {
            first = Math.min(first, id);
            last = Math.max(last, id);
        }
        try (Prepared p = prepare(c, "INSERT INTO " + t.deliveries()
                + " (group_id, message_row, visible_at, attempts, msg_key)"
                + " SELECT g.id, m.id, m.deliver_at, 0, m.msg_key FROM " + t.messages() + " m JOIN " + t.groups() + " g ON g.topic = m.topic"
                + " WHERE m.id BETWEEN ? AND ? AND m.topic = ? ON CONFLICT DO NOTHING")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, first);
            ps.setLong(2, last);
            ps.setString(3, topic);
            ps.executeUpdate();
        }
    }

    @Override
    public Claimed claim(Connection c, Tables t, long groupId, long now, long leaseUntil, long owner, int limit,
                         long lookAheadUntil) throws SQLException {
        List<ClaimedRow> rows = lease(c, t, groupId, now, leaseUntil, owner, limit);
        if (lookAheadUntil <= now) {
            return new Claimed(rows, Claimed.NONE);
        }
        try (Prepared p = prepare(c, nextVisibleSql(t))) {
            bindNextVisible(p.statement(), 1, groupId, now, lookAheadUntil);
            try (ResultSet rs = p.statement().executeQuery()) {
                return new Claimed(rows, nextVisible(rs));
            }
        }
    }

    private List<ClaimedRow> lease(Connection c, Tables t, long groupId, long now, long leaseUntil, long owner, int limit)
            throws SQLException {
        // SQLite's RETURNING cannot name a joined table, so claim first, then read the messages.
        record Leased(long row, int attempts, String headers) {
        }
        List<Leased> leased = new ArrayList<>(limit);
        try (Prepared p = prepare(c, "UPDATE " + t.deliveries()
                + " SET visible_at = ?, lease_owner = ?, attempts = attempts + 1"
                + " WHERE group_id = ? AND message_row IN (SELECT c.message_row FROM " + t.deliveries() + " c"
                + " WHERE c.group_id = ? AND c.visible_at <= ? AND " + SqlDialect.keyIsFree(t, "c")
                + " ORDER BY c.visible_at, c.message_row LIMIT ?)"
                + " RETURNING message_row, attempts, headers")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, leaseUntil);
            ps.setLong(2, owner);
            ps.setLong(3, groupId);
            ps.setLong(4, groupId);
            ps.setLong(5, now);
            ps.setInt(6, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    leased.add(new Leased(rs.getLong(1), rs.getInt(2), rs.getString(3)));
                }
            }
        }
        if (leased.isEmpty()) {
            return List.of();
        }
        leased.sort(Comparator.comparingLong(Leased::row));
        // The IN list is padded to a power of two with the last row again, so the statement has a few
        // shapes that stay compiled instead of one per claim size.
        int slots = Integer.highestOneBit(leased.size());
        if (slots < leased.size()) {
            slots <<= 1;
        }
        StringBuilder sql = new StringBuilder("SELECT id, message_id, msg_key, headers, payload, timestamp_ns FROM ")
                .append(t.messages()).append(" WHERE id IN (");
        for (int i = 0; i < slots; i++) {
            sql.append(i == 0 ? "?" : ", ?");
        }
        sql.append(')');
        // Rows come back in id order, as leased is sorted: a merge pairs them without maps. A message
        // row that is missing (never, while its delivery exists) is skipped.
        sql.append(" ORDER BY id");
        List<ClaimedRow> result = new ArrayList<>(leased.size());
        try (Prepared p = prepare(c, sql.toString())) {
            PreparedStatement ps = p.statement();
            for (int i = 0; i < slots; i++) {
                ps.setLong(i + 1, leased.get(Math.min(i, leased.size() - 1)).row());
            }
            int next = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long row = rs.getLong(1);
                    while (next < leased.size() && leased.get(next).row() < row) {
                        next++;
                    }
                    if (next == leased.size() || leased.get(next).row() != row) {
                        continue;
                    }
                    Leased l = leased.get(next++);
                    String headers = l.headers() != null ? l.headers() : rs.getString(4);
                    result.add(new ClaimedRow(row, l.attempts(),
                            Rows.message(rs.getString(2), rs.getString(3), headers, rs.getBytes(5), rs.getLong(6)),
                            leaseUntil));
                }
            }
        }
        return Collections.unmodifiableList(result);
    }

    @Override
    public boolean isUniqueViolation(SQLException e) {
        if (e instanceof SQLiteException se) {
            SQLiteErrorCode code = se.getResultCode();
            return code == SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY || code == SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE;
        }
        return false;
    }
}
