package io.courier.jdbc.internal;

import io.courier.IdempotencyStore.Claim;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;

/**
 * The SQL of the idempotency store's table: one row per key with its holder's token, whether it is
 * done, and when it expires (the lease while in progress, the retention once done). Each operation is
 * one statement, atomic on its own, with every time taken from the database's clock
 * ({@link SqlDialect#nowMillis()}). A row whose {@code expires_at} has passed counts as absent.
 */
public final class IdempotencyKeys {

    private final SqlDialect dialect;
    private final String claimSql;
    private final String completeSql;
    private final String releaseSql;
    private final String purgeSql;

    /** The statements for the table of {@code t}. */
    public IdempotencyKeys(SqlDialect dialect, Tables t) {
        this.dialect = dialect;
        String table = t.idempotencyKeys();
        String now = dialect.nowMillis();
        String expired = table + ".expires_at <= " + now;
        // One upsert decides and records: a new or expired key gets our token and lease; a live one is
        // left as it is. Either way RETURNING reports the row as it is now, so the caller learns
        // whether it holds the key, or how long the holder's lease runs, without a second look.
        this.claimSql = "INSERT INTO " + table + " (idem_key, token, done, expires_at) VALUES (?, ?, 0, " + now + " + ?)"
                + " ON CONFLICT (idem_key) DO UPDATE SET"
                + " token = CASE WHEN " + expired + " THEN excluded.token ELSE " + table + ".token END,"
                + " done = CASE WHEN " + expired + " THEN 0 ELSE " + table + ".done END,"
                + " expires_at = CASE WHEN " + expired + " THEN excluded.expires_at ELSE " + table + ".expires_at END"
                + " RETURNING token, done, expires_at - " + now;
        // Our token still on the row means nobody claimed the key since (even if our lease ran out);
        // no row means it expired and was purged, again with nobody claiming it in between.
        this.completeSql = "INSERT INTO " + table + " (idem_key, token, done, expires_at) VALUES (?, ?, 1, " + now + " + ?)"
                + " ON CONFLICT (idem_key) DO UPDATE SET done = 1, expires_at = excluded.expires_at"
                + " WHERE " + table + ".token = excluded.token";
        this.releaseSql = "DELETE FROM " + table + " WHERE idem_key = ? AND token = ? AND done = 0";
        // The outer expiry test is checked again on rows that a concurrent claim renewed (PostgreSQL
        // re-evaluates it on the row's newest version), so a fresh claim is never purged.
        this.purgeSql = "DELETE FROM " + table + " WHERE expires_at < " + now + " AND idem_key IN (SELECT idem_key FROM "
                + table + " WHERE expires_at < " + now + " LIMIT ?)";
    }

    /** Claims {@code key} for {@code token} unless it is held or done; see {@code IdempotencyStore.tryClaim}. */
    public Claim claim(Connection c, String key, String token, Duration lease) throws SQLException {
        try (Prepared p = dialect.prepare(c, claimSql)) {
            PreparedStatement ps = p.statement();
            ps.setString(1, key);
            ps.setString(2, token);
            ps.setLong(3, lease.toMillis());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("the idempotency claim of key '" + key + "' returned no row");
                }
                if (rs.getString(1).equals(token)) {
                    return new Claim.Acquired(token);
                }
                return rs.getInt(2) == 1 ? new Claim.AlreadyDone() : new Claim.InProgress(Duration.ofMillis(rs.getLong(3)));
            }
        }
    }

    /** Marks {@code key} done for {@code retention} if {@code token} still holds it; true if it did. */
    public boolean complete(Connection c, String key, String token, Duration retention) throws SQLException {
        return update(c, completeSql, key, token, retention.toMillis()) == 1;
    }

    /** Deletes the in-progress claim of {@code key} if {@code token} holds it; true if it did. */
    public boolean release(Connection c, String key, String token) throws SQLException {
        return update(c, releaseSql, key, token, -1) == 1;
    }

    /** Deletes up to {@code limit} expired keys; returns how many. */
    public int purgeExpired(Connection c, int limit) throws SQLException {
        try (Prepared p = dialect.prepare(c, purgeSql)) {
            p.statement().setInt(1, limit);
            return p.statement().executeUpdate();
        }
    }

    private int update(Connection c, String sql, String key, String token, long millis) throws SQLException {
        try (Prepared p = dialect.prepare(c, sql)) {
            PreparedStatement ps = p.statement();
            ps.setString(1, key);
            ps.setString(2, token);
            if (millis >= 0) {
                ps.setLong(3, millis);
            }
            return ps.executeUpdate();
        }
    }
}
