package io.courier.jdbc.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Prepared statements kept open per physical connection and reused, for drivers that prepare on
 * every {@code prepareStatement} call and pools that do not cache either (sqlite-jdbc and HikariCP:
 * SQLite compiles the SQL each time, a sixth of the transport's CPU before this cache).
 *
 * <p>Statements are prepared on the physical connection behind the pool's proxy (the proxy would close
 * them when the connection goes back to the pool) and shelved by SQL text. A borrow takes the statement
 * off its shelf, so two threads that share one connection never share a statement: the second one
 * prepares its own, and only one copy goes back. A shelf holds at most {@value #MAX_PER_CONNECTION}
 * statements; the rest are closed after use. Shelves of connections that have been closed (the pool
 * retired them, or the caller closed its own) are dropped whenever a new connection appears.
 * Thread-safe.
 */
final class StatementCache {

    /** Statements kept per connection; Courier's own hot paths use about 25 distinct ones. */
    static final int MAX_PER_CONNECTION = 64;

    private final Class<? extends Connection> physicalType;
    private final Map<Connection, Shelf> shelves = new ConcurrentHashMap<>();

    /** A cache for connections that are, or wrap, a {@code physicalType}; others are not cached. */
    StatementCache(Class<? extends Connection> physicalType) {
        this.physicalType = physicalType;
    }

    /** Borrows a statement of {@code sql} for {@code c}; close the borrow when done with it. */
    Prepared prepare(Connection c, String sql) throws SQLException {
        Connection physical = physical(c);
        if (physical == null) {
            return Prepared.unshared(c.prepareStatement(sql));
        }
        Shelf shelf = shelves.get(physical);
        if (shelf == null) {
            shelf = newShelf(physical);
        }
        return shelf.borrow(sql);
    }

    /** How many statements are shelved for {@code c}'s physical connection (tests). */
    int shelved(Connection c) throws SQLException {
        Connection physical = physical(c);
        Shelf shelf = physical == null ? null : shelves.get(physical);
        return shelf == null ? 0 : shelf.statements.size();
    }

    private Connection physical(Connection c) throws SQLException {
        if (physicalType.isInstance(c)) {
            return c;
        }
        return c.isWrapperFor(physicalType) ? c.unwrap(physicalType) : null;
    }

    private Shelf newShelf(Connection physical) throws SQLException {
        // Connections appear rarely (pool growth, retirement): a good moment to drop closed ones' shelves.
        for (Iterator<Map.Entry<Connection, Shelf>> it = shelves.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Connection, Shelf> e = it.next();
            if (e.getKey().isClosed()) {
                it.remove();
            }
        }
        return shelves.computeIfAbsent(physical, Shelf::new);
    }

    /** The statements of one physical connection. */
    static final class Shelf {

        private final Connection connection;
        private final Map<String, PreparedStatement> statements = new ConcurrentHashMap<>();

        private Shelf(Connection connection) {
            this.connection = connection;
        }

        private Prepared borrow(String sql) throws SQLException {
            PreparedStatement ps = statements.remove(sql);
            if (ps == null || ps.isClosed()) {
                ps = connection.prepareStatement(sql);
            }
            return Prepared.shelved(ps, this, sql);
        }

        void giveBack(String sql, PreparedStatement ps) throws SQLException {
            if (ps.isClosed()) {
                return;
            }
            try {
                ps.clearParameters();
                ps.clearBatch();
            } catch (SQLException | RuntimeException e) {
                ps.close();
                return;
            }
            if (statements.size() >= MAX_PER_CONNECTION || statements.putIfAbsent(sql, ps) != null) {
                ps.close();
            }
        }
    }
}
