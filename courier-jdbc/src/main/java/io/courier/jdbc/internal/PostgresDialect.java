package io.courier.jdbc.internal;

import io.courier.sql.AdvisoryLocks;
import io.courier.sql.DatabaseKind;
import io.courier.sql.Migration;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * PostgreSQL: many writers at once. Consumers claim with {@code FOR UPDATE SKIP LOCKED}, so
 * competing consumers never wait for each other's rows. Transaction-scoped advisory locks keep a
 * new group's backfill consistent with concurrent publishers (publishers share a per-topic lock,
 * a registration takes it exclusively) and keep one cleaner at a time. New messages are announced
 * with {@code NOTIFY} on commit (the topic name only; payloads stay in the tables).
 *
 * <p>Only {@link PgListener} links against the PostgreSQL driver; it is created only for PostgreSQL,
 * after {@link DatabaseKind#requireDriver} found the driver.
 */
public final class PostgresDialect extends SqlDialect {

    @Override
    public DatabaseKind kind() {
        return DatabaseKind.POSTGRESQL;
    }

    @Override
    public List<Migration> migrations(Tables t) {
        return List.of(new Migration(1, "messages, groups, deliveries, processed", List.of(
                "CREATE TABLE " + t.messages() + " ("
                        + "id BIGSERIAL PRIMARY KEY, "
                        + "topic TEXT NOT NULL, "
                        + "message_id TEXT NOT NULL, "
                        + "msg_key TEXT, "
                        + "headers TEXT, "
                        + "payload BYTEA NOT NULL, "
                        + "timestamp_ns BIGINT NOT NULL, "
                        + "created_at BIGINT NOT NULL, "
                        + "deliver_at BIGINT NOT NULL)",
                "CREATE TABLE " + t.groups() + " ("
                        + "id BIGSERIAL PRIMARY KEY, "
                        + "topic TEXT NOT NULL, "
                        + "name TEXT NOT NULL, "
                        + "start_position TEXT NOT NULL, "
                        + "created_at BIGINT NOT NULL, "
                        + "UNIQUE (topic, name))",
                "CREATE TABLE " + t.deliveries() + " ("
                        + "group_id BIGINT NOT NULL, "
                        + "message_row BIGINT NOT NULL, "
                        + "visible_at BIGINT NOT NULL, "
                        + "attempts INTEGER NOT NULL, "
                        + "lease_owner BIGINT, "
                        + "headers TEXT, "
                        + "PRIMARY KEY (group_id, message_row))",
                "CREATE INDEX " + t.deliveries() + "_visible ON " + t.deliveries() + " (group_id, visible_at, message_row)",
                "CREATE TABLE " + t.processed() + " ("
                        + "consumer TEXT NOT NULL, "
                        + "message_id TEXT NOT NULL, "
                        + "processed_at BIGINT NOT NULL, "
                        + "PRIMARY KEY (consumer, message_id))",
                "CREATE INDEX " + t.processed() + "_age ON " + t.processed() + " (processed_at)")),
                new Migration(2, "per-key ordering: message keys on deliveries", List.of(
                        "ALTER TABLE " + t.deliveries() + " ADD COLUMN msg_key TEXT",
                        "UPDATE " + t.deliveries() + " d SET msg_key = m.msg_key FROM " + t.messages()
                                + " m WHERE m.id = d.message_row AND m.msg_key IS NOT NULL",
                        "CREATE INDEX " + t.deliveries() + "_key ON " + t.deliveries()
                                + " (group_id, msg_key, message_row) WHERE msg_key IS NOT NULL")),
                idempotencyKeysMigration(t, ""));
    }

    /** Milliseconds since the epoch by the server's clock, fixed for the statement. */
    @Override
    public String nowMillis() {
        return "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000 AS BIGINT)";
    }

    @Override
    public void lockTopicForRegistration(Connection c, Tables t, String topic) throws SQLException {
        AdvisoryLocks.lock(c, topicLock(t, topic));
        AdvisoryLocks.lockShared(c, AdvisoryLocks.id(t.tablePrefix(), "cleanup"));
    }

    @Override
    public boolean tryLockCleanup(Connection c, Tables t) throws SQLException {
        return AdvisoryLocks.tryLock(c, AdvisoryLocks.id(t.tablePrefix(), "cleanup"));
    }

    /** The lock publishers of {@code topic} share and a group registration of it takes exclusively. */
    private static long topicLock(Tables t, String topic) {
        return AdvisoryLocks.id(t.tablePrefix(), "topic/" + topic);
    }

    /** 500 rows (4,000 parameters) per INSERT: one round trip for a typical batch. */
    @Override
    int insertChunk(int remaining) {
        return Math.min(remaining, 500);
    }

    /** A publish of up to one INSERT's worth, 500 messages, is one atomic request (see {@link #publish}). */
    @Override
    public int atomicPublishLimit() {
        return 500;
    }

    /**
     * Per chunk of up to 500 messages ({@link #insertChunk}), one request of three statements: the shared
     * topic lock, one statement that inserts the messages and, in a data-modifying {@code WITH}, their
     * deliveries built from the inserted rows (so no ids travel back and forth), and NOTIFY, which is
     * sent on commit.
     *
     * <p>The lock comes first and in a statement of its own: the insert's snapshot is then taken after
     * any group registration that held the lock has committed, so a new group never misses these
     * messages. The deliveries are a plain INSERT (no ON CONFLICT, whose speculative insertion cost a
     * fifth of the statement): their messages are inserted by this statement, so no other transaction can
     * have delivered them, and a registration's backfill, which can only see committed messages, either
     * ran before (and added no row for them) or waits for the lock until this commits.
     *
     * <p>Statements sent before one Sync run in one implicit transaction, so on a connection in
     * auto-commit mode a chunk is stored atomically and committed in the same round trip, where
     * {@code BEGIN} with an insert, a fan-out and {@code COMMIT} took three. Inside a transaction the
     * chunks are part of it; the lock is re-entrant and identical notifications are sent once.
     */
    @Override
    public long[] publish(Connection c, Tables t, String topic, List<OutgoingMessage> messages, long now)
            throws SQLException {
        long[] ids = new long[messages.size()];
        int from = 0;
        while (from < messages.size()) {
            int rows = insertChunk(messages.size() - from);
            publishChunk(c, t, topic, messages, from, rows, now, ids);
            from += rows;
        }
        return ids;
    }

    private static void publishChunk(Connection c, Tables t, String topic, List<OutgoingMessage> messages, int from,
                                     int rows, long now, long[] ids) throws SQLException {
        String sql = "SELECT pg_advisory_xact_lock_shared(?);"
                + " WITH m AS (" + insertValues(t, rows) + " RETURNING id, deliver_at, msg_key),"
                + " d AS (INSERT INTO " + t.deliveries() + " (group_id, message_row, visible_at, attempts, msg_key)"
                + " SELECT g.id, m.id, m.deliver_at, 0, m.msg_key FROM " + t.groups() + " g CROSS JOIN m"
                + " WHERE g.topic = ?)"
                + " SELECT id FROM m;"
                + " SELECT pg_notify(?, ?)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, topicLock(t, topic));
            int p = bindRows(ps, 2, topic, messages, from, rows, now);
            ps.setString(p++, topic);
            ps.setString(p++, t.channel());
            ps.setString(p, topic);
            // The lock's row, the inserted ids, the notification's row.
            int resultSets = readResults(ps, (index, rs) -> {
                if (index == 1) {
                    readIds(rs, ids, from, rows);
                }
            });
            if (resultSets != 3) {
                throw new SQLException("publishing returned " + resultSets + " result sets instead of 3");
            }
        }
    }

    /**
     * One request: {@link #PLAN_GUARD}, the claim, and the look-ahead for the next visible delivery
     * ({@link SqlDialect#nextVisibleSql}), which as a statement of its own sees the claim's leases.
     */
    @Override
    public Claimed claim(Connection c, Tables t, long groupId, long now, long leaseUntil, long owner, int limit,
                         long lookAheadUntil) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(PLAN_GUARD + claimSql(t) + lookAheadSql(t, now, lookAheadUntil))) {
            int next = bindClaim(ps, 1, groupId, now, leaseUntil, owner, limit);
            bindLookAhead(ps, next, groupId, now, lookAheadUntil);
            return execute(ps, 1, true, leaseUntil, limit);
        }
    }

    /** {@link SqlDialect#nextVisibleSql} as a further statement of a request, or nothing without a look-ahead. */
    private static String lookAheadSql(Tables t, long now, long lookAheadUntil) {
        return lookAheadUntil > now ? "; " + nextVisibleSql(t) : "";
    }

    private static void bindLookAhead(PreparedStatement ps, int from, long groupId, long now, long lookAheadUntil)
            throws SQLException {
        if (lookAheadUntil > now) {
            bindNextVisible(ps, from, groupId, now, lookAheadUntil);
        }
    }

    /** The transaction-local planner settings both guards send (see {@link #PLAN_GUARD}). */
    private static final String CLAIM_SETTINGS = "set_config('enable_bitmapscan', 'off', true),"
            + " set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true),"
            + " set_config('jit', 'off', true)";

    /**
     * Sent first in every request that claims: turns bitmap scans, sequential scans and sorts off for
     * the rest of the request's transaction only ({@code set_config(..., true)}), so the claim walks the
     * {@code (group_id, visible_at, message_row)} index in order and stops after {@code limit} rows.
     * Without it the plan depends on the table's statistics, which a queue table outruns: on a table
     * never analyzed, or analyzed while the queue was empty, the planner expects a few visible rows and
     * picks a bitmap scan of every visible row plus a sort, which under a backlog of 100,000 rows took
     * 130 ms per claim (a sort spilled to disk) instead of under 1 ms, so consumers fell further behind
     * the more they fell behind. JIT is off too: a plan that cannot avoid a disabled step is priced
     * over 10^10 and would be JIT-compiled (over 100 ms) on every execution.
     */
    private static final String PLAN_GUARD = "SELECT " + CLAIM_SETTINGS + "; ";

    /**
     * Sent first in every request that acknowledges: {@link #PLAN_GUARD}'s settings, and no nested loops
     * for the acknowledgement's join of the deliveries to the acknowledged (row, attempt) pairs. Without
     * statistics PostgreSQL expects one delivery row and nests the unnest of the arrays inside the
     * primary-key lookups, unnesting them again for every row: quadratic, 5 ms for 100 rows and 72 ms
     * for 200 in the benchmark. A hash join is linear. The claim that may follow needs nested loops (it
     * looks up each claimed message by key), so {@link #NESTED_LOOPS_BACK} turns them on again first.
     */
    private static final String ACK_GUARD = "SELECT " + CLAIM_SETTINGS + ", set_config('enable_nestloop', 'off', true); ";

    private static final String NESTED_LOOPS_BACK = "SELECT set_config('enable_nestloop', 'on', true); ";

    /**
     * Runs a request of guard statements, other statements and, when {@code claims}, the claim and the
     * look-ahead last; reads every result so that errors surface.
     *
     * @param guards the number of result sets (one row each) that come before the claim's rows
     */
    private static Claimed execute(PreparedStatement ps, int guards, boolean claims, long leaseUntil, int limit)
            throws SQLException {
        List<ClaimedRow> rows = new ArrayList<>(limit);
        long[] nextVisibleAt = {Claimed.NONE};
        readResults(ps, (index, rs) -> {
            if (claims && index == guards) {
                rows.addAll(claimed(rs, leaseUntil, limit));
            } else if (claims && index == guards + 1) {
                nextVisibleAt[0] = nextVisible(rs);
            }
        });
        return claims ? new Claimed(rows, nextVisibleAt[0]) : Claimed.NOTHING;
    }

    /** Reads one result set of a request; {@code index} counts the request's result sets from 0. */
    @FunctionalInterface
    private interface ResultReader {
        void read(int index, ResultSet rs) throws SQLException;
    }

    /**
     * Executes a request of several statements and hands each result set to {@code reader}, skipping
     * update counts; reading every result is what makes an error of a later statement surface here.
     *
     * @return the number of result sets
     */
    private static int readResults(PreparedStatement ps, ResultReader reader) throws SQLException {
        boolean isResultSet = ps.execute();
        int resultSets = 0;
        while (isResultSet || ps.getUpdateCount() != -1) {
            if (isResultSet) {
                try (ResultSet rs = ps.getResultSet()) {
                    reader.read(resultSets++, rs);
                }
            }
            isResultSet = ps.getMoreResults();
        }
        return resultSets;
    }

    /**
     * Four: claims skip each other's locked rows, so while there is a backlog up to four requests of a
     * subscription run at once and their round trips and commit flushes overlap.
     */
    @Override
    public int claimLanes() {
        return 4;
    }

    /** No: claims skip locked rows and never block publishers, so an empty claim is as cheap as a look. */
    @Override
    public boolean looksBeforeClaiming() {
        return false;
    }

    @Override
    public boolean acknowledgesAndClaimsInOneRequest() {
        return true;
    }

    /**
     * One round trip instead of BEGIN, a batch of DELETEs, the claim and COMMIT: the acknowledgements are
     * one DELETE over arrays, and the claim follows in the same request. Statements sent before one Sync
     * run in one implicit transaction, so both happen or neither; the claim, a statement of its own, sees
     * the deletes (a key freed by an acknowledgement is claimable at once).
     */
    @Override
    public Claimed acknowledgeAndClaim(Connection c, Tables t, long groupId, long owner, List<Settlement> acks,
                                       long now, long leaseUntil, int limit, long lookAheadUntil) throws SQLException {
        if (acks.isEmpty()) {
            return limit == 0 ? Claimed.NOTHING : claim(c, t, groupId, now, leaseUntil, owner, limit, lookAheadUntil);
        }
        Long[] rows = new Long[acks.size()];
        Integer[] attempts = new Integer[acks.size()];
        for (int i = 0; i < rows.length; i++) {
            Settlement s = acks.get(i);
            if (s.kind() != Settlement.Kind.ACK) {
                throw new IllegalArgumentException("acknowledgeAndClaim takes acknowledgements only, but got " + s.kind());
            }
            rows[i] = s.row().messageRow();
            attempts[i] = s.row().attempts();
        }
        Array rowArray = c.createArrayOf("bigint", rows);
        Array attemptArray = c.createArrayOf("integer", attempts);
        // The rows are looked up by primary key as "message_row = ANY(ARRAY(SELECT unnest(rows)))". Joined
        // to the unnest alone, or matched against the array as a constant, PostgreSQL without statistics
        // (a queue table is rarely analyzed while it holds a backlog) takes "group_id = ?" for 0.5% of the
        // table, finds walking the group cheaper than 100 key lookups, and reads the group's whole
        // primary key for every acknowledgement: 117 index entries per message in the benchmark. A
        // sub-select's array has no size the planner can see, so it looks each row up
        // (PostgresClaimPlanTest); the join then only checks each row's attempt.
        String ack = "DELETE FROM " + t.deliveries() + " d USING unnest(?::bigint[], ?::integer[]) AS a(message_row, attempts)"
                + " WHERE d.group_id = ? AND d.message_row = ANY(ARRAY(SELECT unnest(?::bigint[])))"
                + " AND d.message_row = a.message_row"
                + " AND d.lease_owner = ? AND d.attempts = a.attempts";
        String request = limit == 0 ? ACK_GUARD + ack
                : ACK_GUARD + ack + "; " + NESTED_LOOPS_BACK + claimSql(t) + lookAheadSql(t, now, lookAheadUntil);
        try (PreparedStatement ps = c.prepareStatement(request)) {
            ps.setArray(1, rowArray);
            ps.setArray(2, attemptArray);
            ps.setLong(3, groupId);
            ps.setArray(4, rowArray);
            ps.setLong(5, owner);
            if (limit > 0) {
                int next = bindClaim(ps, 6, groupId, now, leaseUntil, owner, limit);
                bindLookAhead(ps, next, groupId, now, lookAheadUntil);
            }
            // The guard's row, the DELETE's count, the second guard's row, the claim's rows, the look-ahead.
            return execute(ps, 2, limit > 0, leaseUntil, limit);
        } finally {
            rowArray.free();
            attemptArray.free();
        }
    }

    /**
     * The claim. The picked rows are matched as {@code = ANY(ARRAY(...))}: joined to the CTE (or as
     * {@code IN (subquery)}) the planner hashes them and scans the group's whole deliveries table,
     * which grows with the backlog and its dead row versions, so claims slowed down exactly when a
     * consumer fell behind; as an array it looks up each row by primary key.
     */
    private static String claimSql(Tables t) {
        return "WITH picked AS ("
                + "SELECT c.message_row FROM " + t.deliveries() + " c"
                + " WHERE c.group_id = ? AND c.visible_at <= ? AND " + keyIsFree(t, "c")
                + " ORDER BY c.visible_at, c.message_row LIMIT ? FOR UPDATE OF c SKIP LOCKED)"
                + " UPDATE " + t.deliveries() + " AS d SET visible_at = ?, lease_owner = ?, attempts = d.attempts + 1"
                + " FROM " + t.messages() + " AS m"
                + " WHERE d.group_id = ? AND d.message_row = ANY(ARRAY(SELECT message_row FROM picked))"
                + " AND m.id = d.message_row"
                + " RETURNING d.message_row, d.attempts, COALESCE(d.headers, m.headers), m.message_id, m.msg_key,"
                + " m.payload, m.timestamp_ns";
    }

    /** Binds {@link #claimSql} from parameter {@code from}; returns the next parameter's index. */
    private static int bindClaim(PreparedStatement ps, int from, long groupId, long now, long leaseUntil, long owner,
                                 int limit) throws SQLException {
        ps.setLong(from, groupId);
        ps.setLong(from + 1, now);
        ps.setInt(from + 2, limit);
        ps.setLong(from + 3, leaseUntil);
        ps.setLong(from + 4, owner);
        ps.setLong(from + 5, groupId);
        return from + 6;
    }

    private static List<ClaimedRow> claimed(ResultSet rs, long leaseUntil, int limit) throws SQLException {
        List<ClaimedRow> result = new ArrayList<>(limit);
        while (rs.next()) {
            result.add(new ClaimedRow(rs.getLong(1), rs.getInt(2),
                    Rows.message(rs.getString(4), rs.getString(5), rs.getString(3), rs.getBytes(6), rs.getLong(7)),
                    leaseUntil));
        }
        result.sort((a, b) -> Long.compare(a.messageRow(), b.messageRow()));
        return result;
    }

    @Override
    public boolean isUniqueViolation(SQLException e) {
        return "23505".equals(e.getSQLState());
    }
}
