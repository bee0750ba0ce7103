package io.courier.sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * PostgreSQL advisory locks that keep concurrent processes apart, one lock per table prefix and
 * purpose: modules with different prefixes in one database never wait for each other, and one
 * module's purposes (schema migration, cleanup, a topic) never collide. Every lock here is
 * transaction-scoped: it is released when the transaction commits or rolls back, so it can never be
 * left behind on a pooled connection.
 *
 * <p>Lock ids are stable across releases: they are the 64-bit FNV-1a hash of
 * {@code prefix + "/" + purpose}, so processes of two Courier versions sharing a database take the same
 * lock for the same purpose. PostgreSQL only; SQLite's write lock already excludes every other writer.
 */
public final class AdvisoryLocks {

    private AdvisoryLocks() {
    }

    /**
     * The lock id for {@code purpose} (e.g. {@code "schema"}, {@code "cleanup"}, {@code "topic/orders"})
     * under {@code prefix}.
     */
    public static long id(TablePrefix prefix, String purpose) {
        return hash64(prefix.value() + "/" + purpose);
    }

    /** Waits for the exclusive lock {@code id} and holds it until the transaction on {@code c} ends. */
    public static void lock(Connection c, long id) throws SQLException {
        call(c, "SELECT pg_advisory_xact_lock(?)", id);
    }

    /**
     * Waits for the lock {@code id} in shared mode (many holders at once, none while another holds it
     * exclusively) and holds it until the transaction on {@code c} ends.
     */
    public static void lockShared(Connection c, long id) throws SQLException {
        call(c, "SELECT pg_advisory_xact_lock_shared(?)", id);
    }

    /**
     * Takes the exclusive lock {@code id} until the transaction on {@code c} ends, if nobody holds it.
     *
     * @return false, without waiting, when another transaction holds it
     */
    public static boolean tryLock(Connection c, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_try_advisory_xact_lock(?)")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    private static void call(Connection c, String sql, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, id);
            ps.execute();
        }
    }

    /** 64-bit FNV-1a hash of a string's UTF-16 code units. */
    static long hash64(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }
}
