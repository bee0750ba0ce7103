package io.courier.jdbc.internal;

import io.courier.spi.PayloadAccess;
import io.courier.sql.DatabaseKind;
import io.courier.sql.Migration;
import io.courier.sql.Migrator;
import java.lang.invoke.MethodHandles;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;

/**
 * Everything of the transport's SQL that differs between the databases Courier supports, in one small
 * adapter: the DDL, how concurrent publishers, group registrations and cleaners are kept apart, how a
 * batch of messages is inserted and fanned out, how deliveries are claimed, and how new messages wake
 * consumers. Everything else ({@link MessageStore}) is plain SQL that both dialects accept. What every
 * SQL module shares (the database kind, how a write transaction begins and ends, advisory lock ids,
 * the migrator) comes from {@code io.courier.sql}.
 */
public abstract class SqlDialect {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    /** The database this dialect is for. */
    public abstract DatabaseKind kind();

    /** {@code sqlite} or {@code postgresql}; also the transport's name. */
    public String name() {
        return kind().id();
    }

    /** The migrations that build the schema, in version order. */
    public abstract List<Migration> migrations(Tables t);

    /**
     * An SQL expression for the database's current time in milliseconds since the epoch, the same
     * value wherever it appears in one statement: leases and retention of the idempotency store are
     * measured with it, so that clock skew between the processes sharing the database does not matter.
     */
    public abstract String nowMillis();

    /**
     * Migration 3: the idempotency store's table.
     *
     * @param tableOptions appended to {@code CREATE TABLE} (e.g. {@code " WITHOUT ROWID"})
     */
    Migration idempotencyKeysMigration(Tables t, String tableOptions) {
        String bigint = kind().bigintType();
        return new Migration(3, "idempotency store keys", List.of(
                "CREATE TABLE " + t.idempotencyKeys() + " ("
                        + "idem_key TEXT PRIMARY KEY, "
                        + "token TEXT NOT NULL, "
                        + "done INTEGER NOT NULL, "
                        + "expires_at " + bigint + " NOT NULL)" + tableOptions,
                "CREATE INDEX " + t.idempotencyKeys() + "_expiry ON " + t.idempotencyKeys() + " (expires_at)"));
    }

    /** DDL of the schema version table (idempotent), in the layout the shared {@link Migrator} keeps. */
    public String createSchemaVersionTable(Tables t) {
        return Migrator.createVersionTableSql(t.schemaVersion());
    }

    /** Starts a write transaction on a connection in auto-commit mode (see {@link DatabaseKind#begin}). */
    public void begin(Connection c) throws SQLException {
        kind().begin(c);
    }

    /** Commits a transaction started by {@link #begin}; the connection is in auto-commit mode after. */
    public void commit(Connection c) throws SQLException {
        kind().commit(c);
    }

    /** Rolls back a transaction started by {@link #begin}; the connection is in auto-commit mode after. */
    public void rollback(Connection c) throws SQLException {
        kind().rollback(c);
    }

    /**
     * Called in a group registration transaction before the group row is written: waits for
     * publishers of the topic in flight and keeps the cleaner away while the group backfills.
     */
    public void lockTopicForRegistration(Connection c, Tables t, String topic) throws SQLException {
    }

    /** Called in a cleanup transaction; false when another cleaner (another process) is running. */
    public boolean tryLockCleanup(Connection c, Tables t) throws SQLException {
        return true;
    }

    /** Rows per multi-row INSERT statement (8 parameters each); see {@link #insertChunk(int)}. */
    static final int INSERT_CHUNK = 50;

    /**
     * Borrows a prepared statement of {@code sql} on {@code c}, to close after use. Here a new statement
     * that the borrow's close closes; a dialect whose driver compiles SQL on every prepare keeps them
     * instead ({@link StatementCache}).
     */
    Prepared prepare(Connection c, String sql) throws SQLException {
        return Prepared.unshared(c.prepareStatement(sql));
    }

    /**
     * Rows for the next multi-row INSERT statement when {@code remaining} messages are left to insert:
     * at most {@value #INSERT_CHUNK}.
     */
    int insertChunk(int remaining) {
        return Math.min(remaining, INSERT_CHUNK);
    }

    /**
     * Inserts the messages of one topic and returns their row ids in order. Uses multi-row
     * {@code INSERT ... VALUES (...), (...) RETURNING id}, several times faster than one statement per
     * row; within one statement ids are assigned in VALUES order on both databases, so the returned
     * ids sorted ascending line up with the messages.
     */
    long[] insertMessages(Connection c, Tables t, String topic, List<OutgoingMessage> messages, long now)
            throws SQLException {
        long[] ids = new long[messages.size()];
        int from = 0;
        while (from < messages.size()) {
            int rows = insertChunk(messages.size() - from);
            try (Prepared p = prepare(c, insertSql(t, rows))) {
                insertChunk(p.statement(), topic, messages, from, rows, now, ids);
            }
            from += rows;
        }
        return ids;
    }

    /** {@code INSERT INTO messages ... VALUES} of {@code rows} rows, without a RETURNING clause. */
    static String insertValues(Tables t, int rows) {
        StringBuilder sql = new StringBuilder("INSERT INTO ").append(t.messages())
                .append(" (topic, message_id, msg_key, headers, payload, timestamp_ns, created_at, deliver_at) VALUES ");
        for (int i = 0; i < rows; i++) {
            sql.append(i == 0 ? "" : ", ").append("(?, ?, ?, ?, ?, ?, ?, ?)");
        }
        return sql.toString();
    }

    private static String insertSql(Tables t, int rows) {
        return insertValues(t, rows) + " RETURNING id";
    }

    private static void insertChunk(PreparedStatement ps, String topic, List<OutgoingMessage> messages, int from, int rows,
                                    long now, long[] ids) throws SQLException {
        bindRows(ps, 1, topic, messages, from, rows, now);
        try (ResultSet rs = ps.executeQuery()) {
            readIds(rs, ids, from, rows);
        }
    }

    /**
     * Binds the parameters of {@link #insertValues}'s rows for messages {@code from .. from + rows - 1},
     * starting at parameter {@code first}; returns the next parameter's index.
     */
    static int bindRows(PreparedStatement ps, int first, String topic, List<OutgoingMessage> messages, int from, int rows,
                        long now) throws SQLException {
        int p = first;
        for (int i = from; i < from + rows; i++) {
            OutgoingMessage m = messages.get(i);
            ps.setString(p++, topic);
            ps.setString(p++, m.message().id());
            ps.setString(p++, m.message().key().orElse(null));
            ps.setString(p++, m.headersJson());
            ps.setBytes(p++, PAYLOADS.view(m.message()));   // the driver only reads it
            ps.setLong(p++, m.timestampNs());
            ps.setLong(p++, now);
            ps.setLong(p++, m.deliverAt());
        }
        return p;
    }

    /**
     * Reads the {@code rows} ids an insert of {@code rows} rows returned into {@code ids[from ..]}, in
     * ascending order, which is the order of the VALUES rows; fails unless exactly {@code rows} came back.
     */
    static void readIds(ResultSet rs, long[] ids, int from, int rows) throws SQLException {
        long[] chunk = new long[rows];
        int n = 0;
        while (rs.next()) {
            if (n == rows) {
                throw new SQLException("INSERT of " + rows + " rows returned more ids");
            }
            chunk[n++] = rs.getLong(1);
        }
        if (n != rows) {
            throw new SQLException("INSERT of " + rows + " rows returned " + n + " ids");
        }
        Arrays.sort(chunk);
        System.arraycopy(chunk, 0, ids, from, rows);
    }

    /**
     * Inserts the messages of one topic and one delivery per group of the topic for each, and wakes
     * consumers in other processes on commit where the database can; returns the row ids, in order.
     * Runs inside a transaction, or, for up to {@link #atomicPublishLimit()} messages, on a connection in
     * auto-commit mode, where it stores them atomically. Must not miss a group whose registration
     * commits while the transaction is open.
     */
    public abstract long[] publish(Connection c, Tables t, String topic, List<OutgoingMessage> messages, long now)
            throws SQLException;

    /**
     * Up to how many messages {@link #publish} stores atomically as one request on a connection in
     * auto-commit mode: 0 (the default) where it does not (SQLite, whose statements are calls into this
     * process, so there are no round trips to save).
     */
    public int atomicPublishLimit() {
        return 0;
    }

    /**
     * Leases up to {@code limit} visible deliveries of a group to {@code owner} until {@code leaseUntil},
     * counting one more attempt on each, and returns them with their messages, oldest first, and the
     * earliest {@code visible_at} in {@code (now, lookAheadUntil]} after the claim (see {@link Claimed});
     * with {@code lookAheadUntil <= now} that is not read and {@link Claimed#NONE} is returned.
     */
    public abstract Claimed claim(Connection c, Tables t, long groupId, long now, long leaseUntil, long owner, int limit,
                                  long lookAheadUntil) throws SQLException;

    /**
     * The earliest {@code visible_at} of a group's deliveries in {@code (now, until]}: a walk along the
     * {@code (group_id, visible_at, message_row)} index from {@code now} to the first live entry, at most
     * to {@code until}. On PostgreSQL the entries it may pass are those of leases taken a lease timeout
     * before and expiring within the window, most of them of deliveries acknowledged since and not yet
     * vacuumed; the bound keeps that to one poll interval's worth of claims. Parameters: group, now, until.
     */
    static String nextVisibleSql(Tables t) {
        return "SELECT visible_at FROM " + t.deliveries()
                + " WHERE group_id = ? AND visible_at > ? AND visible_at <= ? ORDER BY visible_at LIMIT 1";
    }

    /** Binds {@link #nextVisibleSql} from parameter {@code from}. */
    static void bindNextVisible(PreparedStatement ps, int from, long groupId, long now, long until) throws SQLException {
        ps.setLong(from, groupId);
        ps.setLong(from + 1, now);
        ps.setLong(from + 2, until);
    }

    /** Reads {@link #nextVisibleSql}'s result: the time, or {@link Claimed#NONE}. */
    static long nextVisible(ResultSet rs) throws SQLException {
        return rs.next() ? rs.getLong(1) : Claimed.NONE;
    }

    /**
     * True when an idle consumer should look for visible deliveries with a read before it claims: on
     * SQLite a claim takes the database's single write lock, which an idle consumer must not keep taking
     * from publishers. Where a claim that finds nothing costs no more than the read, the consumer
     * claims at once and reads only when the claim found nothing.
     */
    public boolean looksBeforeClaiming() {
        return true;
    }

    /**
     * How many pollers of one subscription may settle and claim at the same time while there is a
     * backlog: 1 where the database runs one writer at a time anyway (SQLite).
     */
    public int claimLanes() {
        return 1;
    }

    /**
     * True when {@link #acknowledgeAndClaim} is supported: acknowledgements and the next claim as one
     * atomic request on a connection in auto-commit mode, instead of a transaction of several round trips.
     */
    public boolean acknowledgesAndClaimsInOneRequest() {
        return false;
    }

    /**
     * Deletes the deliveries of {@code acks} (each fenced by {@code owner} and its attempt count, as
     * {@link MessageStore#settle} does), then, when {@code limit > 0}, claims as {@link #claim} does: both
     * atomically, on a connection in auto-commit mode. Only when {@link #acknowledgesAndClaimsInOneRequest()}.
     *
     * @param acks settlements of kind {@link Settlement.Kind#ACK} only
     * @return what was claimed; {@link Claimed#NOTHING} when {@code limit} is 0
     */
    public Claimed acknowledgeAndClaim(Connection c, Tables t, long groupId, long owner, List<Settlement> acks,
                                       long now, long leaseUntil, int limit, long lookAheadUntil) throws SQLException {
        throw new UnsupportedOperationException(name() + " cannot acknowledge and claim in one request");
    }

    /** True when the exception is a unique-key violation. */
    public abstract boolean isUniqueViolation(SQLException e);

    /**
     * The per-key ordering rule, for a delivery aliased {@code alias}: a message without a key is
     * always free; a keyed one only when no earlier message of the same key is still pending in the
     * group (ready, delayed, leased or failed). So each key has at most one message in flight per
     * group, across all consumers, and its messages are handled in row order, which is publish order.
     */
    static String keyIsFree(Tables t, String alias) {
        return "(" + alias + ".msg_key IS NULL OR NOT EXISTS (SELECT 1 FROM " + t.deliveries() + " e"
                + " WHERE e.group_id = " + alias + ".group_id AND e.msg_key = " + alias + ".msg_key"
                + " AND e.message_row < " + alias + ".message_row))";
    }
}
