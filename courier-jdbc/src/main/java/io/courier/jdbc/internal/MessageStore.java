package io.courier.jdbc.internal;

import io.courier.StartPosition;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;

/**
 * The SQL of the transport that both dialects share, plus calls into the {@link SqlDialect} where
 * they differ. Stateless apart from the table names; every method works on the connection it is
 * given, inside the caller's transaction.
 */
public final class MessageStore {

    private final SqlDialect dialect;
    private final Tables t;

    /** A store over {@code tables} in {@code dialect}. */
    public MessageStore(SqlDialect dialect, Tables tables) {
        this.dialect = dialect;
        this.t = tables;
    }

    /**
     * Inserts messages of one topic and one delivery per group of the topic for each; on PostgreSQL
     * also queues a NOTIFY for commit. Must run inside a transaction.
     *
     * @return the row ids, in order
     */
    public long[] publish(Connection c, String topic, List<OutgoingMessage> messages, long now) throws SQLException {
        if (messages.isEmpty()) {
            return new long[0];
        }
        return dialect.publish(c, t, topic, messages, now);
    }

    /**
     * Publishes messages of one topic in a transaction of their own: as one atomic request where the
     * dialect stores that many so ({@link SqlDialect#atomicPublishLimit()}), else inside
     * {@link Database#inTransaction}.
     *
     * @param clock gives the publish time, read once the connection is there
     * @return the row ids, in order
     */
    public long[] publishInOwnTransaction(Database db, String topic, List<OutgoingMessage> messages, Clock clock)
            throws SQLException {
        if (messages.isEmpty()) {
            return new long[0];
        }
        if (messages.size() <= dialect.atomicPublishLimit()) {
            return db.autoCommit(c -> dialect.publish(c, t, topic, messages, clock.millis()));
        }
        return db.inTransaction(c -> dialect.publish(c, t, topic, messages, clock.millis()));
    }

    /** The id of an existing group, if any (no transaction needed). */
    public OptionalLong findGroup(Connection c, String topic, String group) throws SQLException {
        try (Prepared p = dialect.prepare(c, "SELECT id FROM " + t.groups() + " WHERE topic = ? AND name = ?")) {
            PreparedStatement ps = p.statement();
            ps.setString(1, topic);
            ps.setString(2, group);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? OptionalLong.of(rs.getLong(1)) : OptionalLong.empty();
            }
        }
    }

    /**
     * Counts one group's pending deliveries: {@code [pending, ready, leased, oldest created_at,
     * oldest deliver_at]}, where "oldest" is the earliest-written message still pending and both of
     * its times are -1 when nothing is pending. Reads the group's deliveries once and one message row.
     */
    public long[] backlog(Connection c, long groupId, long now) throws SQLException {
        long pending;
        long ready;
        long leased;
        long oldestRow;
        try (Prepared p = dialect.prepare(c, "SELECT COUNT(*),"
                + " COALESCE(SUM(CASE WHEN lease_owner IS NULL AND visible_at <= ? THEN 1 ELSE 0 END), 0),"
                + " COALESCE(SUM(CASE WHEN lease_owner IS NOT NULL THEN 1 ELSE 0 END), 0), MIN(message_row)"
                + " FROM " + t.deliveries() + " WHERE group_id = ?")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, now);
            ps.setLong(2, groupId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                pending = rs.getLong(1);
                ready = rs.getLong(2);
                leased = rs.getLong(3);
                oldestRow = rs.getLong(4);
                if (rs.wasNull()) {
                    return new long[] {0, 0, 0, -1, -1};
                }
            }
        }
        try (Prepared p = dialect.prepare(c, "SELECT created_at, deliver_at FROM " + t.messages() + " WHERE id = ?")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, oldestRow);
            try (ResultSet rs = ps.executeQuery()) {
                // acknowledged between the two reads: count it as pending, with no age
                return rs.next() ? new long[] {pending, ready, leased, rs.getLong(1), rs.getLong(2)}
                        : new long[] {pending, ready, leased, -1, -1};
            }
        }
    }

    /**
     * Creates the group if it does not exist, inside a transaction; a new group starting at
     * {@link StartPosition#EARLIEST} gets a delivery for every message of the topic still stored.
     *
     * @return the group's id
     */
    public long registerGroup(Connection c, String topic, String group, StartPosition start, long now) throws SQLException {
        dialect.lockTopicForRegistration(c, t, topic);
        OptionalLong existing = findGroup(c, topic, group);
        if (existing.isPresent()) {
            return existing.getAsLong();
        }
        try (Prepared p = dialect.prepare(c, "INSERT INTO " + t.groups()
                + " (topic, name, start_position, created_at) VALUES (?, ?, ?, ?)")) {
            PreparedStatement ps = p.statement();
            ps.setString(1, topic);
            ps.setString(2, group);
            ps.setString(3, start.name());
            ps.setLong(4, now);
            ps.executeUpdate();
        }
        long id = findGroup(c, topic, group).orElseThrow();
        if (start == StartPosition.EARLIEST) {
            try (Prepared p = dialect.prepare(c, "INSERT INTO " + t.deliveries()
                    + " (group_id, message_row, visible_at, attempts, msg_key)"
                    + " SELECT ?, m.id, m.deliver_at, 0, m.msg_key FROM " + t.messages() + " m WHERE m.topic = ?"
                    + " ON CONFLICT DO NOTHING")) {
                PreparedStatement ps = p.statement();
                ps.setLong(1, id);
                ps.setString(2, topic);
                ps.executeUpdate();
            }
        }
        return id;
    }

    /**
     * Writes {@code settlements} (see {@link #settle}), then leases up to {@code limit} visible deliveries
     * (none when 0) for {@code lease}, atomically, and reads when the group's next delivery becomes
     * visible within {@code lookAhead} (see {@link Claimed}; not read when it is zero). When the dialect can and every settlement
     * is an acknowledgement (the usual case), that is one request in auto-commit mode
     * ({@link SqlDialect#acknowledgeAndClaim}); otherwise one transaction.
     *
     * @return what was claimed; {@link Claimed#NOTHING} when {@code limit} is 0
     */
    public Claimed settleAndClaim(Database db, long groupId, long owner, List<Settlement> settlements, int limit,
                                  Clock clock, Duration lease, Duration lookAhead) throws SQLException {
        if (dialect.acknowledgesAndClaimsInOneRequest() && onlyAcks(settlements)) {
            return db.autoCommit(c -> {
                long now = clock.millis();
                return dialect.acknowledgeAndClaim(c, t, groupId, owner, settlements, now, now + lease.toMillis(), limit,
                        now + lookAhead.toMillis());
            });
        }
        return db.inTransaction(c -> {
            if (!settlements.isEmpty()) {
                settle(c, groupId, owner, settlements);
            }
            if (limit == 0) {
                return Claimed.NOTHING;
            }
            long now = clock.millis();
            return dialect.claim(c, t, groupId, now, now + lease.toMillis(), owner, limit, now + lookAhead.toMillis());
        });
    }

    private static boolean onlyAcks(List<Settlement> settlements) {
        for (Settlement s : settlements) {
            if (s.kind() != Settlement.Kind.ACK) {
                return false;
            }
        }
        return true;
    }

    /**
     * Writes settlements of one group's deliveries leased by {@code owner}. Each update is fenced by
     * owner and attempt count, so a settlement whose lease was lost changes nothing.
     */
    public void settle(Connection c, long groupId, long owner, List<Settlement> settlements) throws SQLException {
        Prepared ack = null;
        Prepared reschedule = null;
        Prepared release = null;
        try {
            for (Settlement s : settlements) {
                switch (s.kind()) {
                    case ACK -> {
                        if (ack == null) {
                            ack = dialect.prepare(c, "DELETE FROM " + t.deliveries()
                                    + " WHERE group_id = ? AND message_row = ? AND lease_owner = ? AND attempts = ?");
                        }
                        fence(ack.statement(), 1, groupId, owner, s);
                        ack.statement().addBatch();
                    }
                    case RESCHEDULE -> {
                        if (reschedule == null) {
                            reschedule = dialect.prepare(c, "UPDATE " + t.deliveries()
                                    + " SET visible_at = ?, lease_owner = NULL, headers = COALESCE(?, headers)"
                                    + " WHERE group_id = ? AND message_row = ? AND lease_owner = ? AND attempts = ?");
                        }
                        PreparedStatement ps = reschedule.statement();
                        ps.setLong(1, s.visibleAt());
                        if (s.headersJson() == null) {
                            ps.setNull(2, Types.VARCHAR);
                        } else {
                            ps.setString(2, s.headersJson());
                        }
                        fence(ps, 3, groupId, owner, s);
                        ps.addBatch();
                    }
                    case RELEASE -> {
                        if (release == null) {
                            release = dialect.prepare(c, "UPDATE " + t.deliveries()
                                    + " SET visible_at = ?, lease_owner = NULL, attempts = attempts - 1"
                                    + " WHERE group_id = ? AND message_row = ? AND lease_owner = ? AND attempts = ?");
                        }
                        release.statement().setLong(1, s.visibleAt());
                        fence(release.statement(), 2, groupId, owner, s);
                        release.statement().addBatch();
                    }
                }
            }
            if (ack != null) {
                ack.statement().executeBatch();
            }
            if (reschedule != null) {
                reschedule.statement().executeBatch();
            }
            if (release != null) {
                release.statement().executeBatch();
            }
        } finally {
            closeAll(ack, reschedule, release);
        }
    }

    /**
     * Extends the leases of deliveries this owner still holds to {@code leaseUntil}, fenced like a
     * settlement: a row another consumer claimed meanwhile (its lease had expired) is left alone.
     *
     * @return for each row, in order, whether its lease was extended
     */
    public boolean[] extendLeases(Connection c, long groupId, long owner, List<ClaimedRow> rows, long leaseUntil)
            throws SQLException {
        boolean[] extended = new boolean[rows.size()];
        try (Prepared p = dialect.prepare(c, "UPDATE " + t.deliveries() + " SET visible_at = ?"
                + " WHERE group_id = ? AND message_row = ? AND lease_owner = ? AND attempts = ?")) {
            PreparedStatement ps = p.statement();
            for (ClaimedRow row : rows) {
                ps.setLong(1, leaseUntil);
                ps.setLong(2, groupId);
                ps.setLong(3, row.messageRow());
                ps.setLong(4, owner);
                ps.setInt(5, row.attempts());
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            for (int i = 0; i < extended.length && i < counts.length; i++) {
                extended[i] = counts[i] > 0 || counts[i] == java.sql.Statement.SUCCESS_NO_INFO;
            }
        }
        return extended;
    }

    private static void fence(PreparedStatement ps, int from, long groupId, long owner, Settlement s) throws SQLException {
        ps.setLong(from, groupId);
        ps.setLong(from + 1, s.row().messageRow());
        ps.setLong(from + 2, owner);
        ps.setInt(from + 3, s.row().attempts());
    }

    private static void closeAll(Prepared... statements) throws SQLException {
        for (Prepared p : statements) {
            if (p != null) {
                p.close();
            }
        }
    }

    /** The earliest visible_at of the group's deliveries (leased ones: their lease expiry), if any. */
    public OptionalLong nextVisibleAt(Connection c, long groupId) throws SQLException {
        try (Prepared p = dialect.prepare(c, "SELECT MIN(visible_at) FROM " + t.deliveries() + " WHERE group_id = ?")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, groupId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long v = rs.getLong(1);
                return rs.wasNull() ? OptionalLong.empty() : OptionalLong.of(v);
            }
        }
    }

    /**
     * Records that {@code consumer} processed {@code messageId}, in the caller's transaction.
     *
     * @return false when it was already recorded (or is being recorded by a transaction that then
     *         committed): the message was processed
     */
    public boolean claimProcessed(Connection c, String consumer, String messageId, long now) throws SQLException {
        try (Prepared p = dialect.prepare(c, "INSERT INTO " + t.processed()
                + " (consumer, message_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")) {
            PreparedStatement ps = p.statement();
            ps.setString(1, consumer);
            ps.setString(2, messageId);
            ps.setLong(3, now);
            return ps.executeUpdate() == 1;
        }
    }

    /**
     * Finds the highest message row id created before {@code cutoff} by binary search over row ids
     * (row ids grow with creation time), or -1 when there is none. Cheap: a few dozen primary-key seeks.
     */
    public long lastRowCreatedBefore(Connection c, long cutoff) throws SQLException {
        long lo;
        long hi;
        try (Prepared p = dialect.prepare(c, "SELECT MIN(id), MAX(id) FROM " + t.messages());
             ResultSet rs = p.statement().executeQuery()) {
            rs.next();
            lo = rs.getLong(1);
            if (rs.wasNull()) {
                return -1;
            }
            hi = rs.getLong(2);
        }
        try (Prepared p = dialect.prepare(c, "SELECT id, created_at FROM " + t.messages()
                + " WHERE id >= ? ORDER BY id LIMIT 1")) {
            PreparedStatement ps = p.statement();
            long[] first = probe(ps, lo);
            if (first == null || first[1] >= cutoff) {
                return -1;
            }
            long found = first[0];
            lo = first[0] + 1;
            while (lo <= hi) {
                long mid = lo + (hi - lo) / 2;
                long[] row = probe(ps, mid);
                if (row != null && row[1] < cutoff) {
                    found = row[0];
                    lo = row[0] + 1;
                } else {
                    hi = mid - 1;
                }
            }
            return found;
        }
    }

    private static long[] probe(PreparedStatement ps, long fromId) throws SQLException {
        ps.setLong(1, fromId);
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? new long[] {rs.getLong(1), rs.getLong(2)} : null;
        }
    }

    /**
     * Deletes up to {@code limit} messages with row id at most {@code maxRow} that no group still has
     * to handle. Returns how many were deleted.
     */
    public int deleteHandledMessages(Connection c, long maxRow, int limit) throws SQLException {
        try (Prepared p = dialect.prepare(c, "DELETE FROM " + t.messages() + " WHERE id IN ("
                + "SELECT m.id FROM " + t.messages() + " m WHERE m.id <= ? AND NOT EXISTS ("
                + "SELECT 1 FROM " + t.groups() + " g JOIN " + t.deliveries() + " d"
                + " ON d.group_id = g.id AND d.message_row = m.id WHERE g.topic = m.topic)"
                + " ORDER BY m.id LIMIT ?)")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, maxRow);
            ps.setInt(2, limit);
            return ps.executeUpdate();
        }
    }

    /** Deletes idempotency claims recorded before {@code cutoff}; returns how many. */
    public int deleteProcessedBefore(Connection c, long cutoff) throws SQLException {
        try (Prepared p = dialect.prepare(c, "DELETE FROM " + t.processed() + " WHERE processed_at < ?")) {
            PreparedStatement ps = p.statement();
            ps.setLong(1, cutoff);
            return ps.executeUpdate();
        }
    }
}
