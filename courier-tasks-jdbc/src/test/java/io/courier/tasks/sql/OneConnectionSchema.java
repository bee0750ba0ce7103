package io.courier.tasks.sql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * A throwaway PostgreSQL schema and a pool of one connection into it, for tests that read the
 * statistics counters of the one backend that ran the store's statements.
 */
final class OneConnectionSchema implements AutoCloseable {

    final String name;
    final HikariDataSource pool;

    OneConnectionSchema(String prefix) throws SQLException {
        name = prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        PostgresTaskStoreTest.execute("CREATE SCHEMA " + name);
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(PostgresTaskStoreTest.URL + "?currentSchema=" + name);
        hc.setUsername(PostgresTaskStoreTest.USER);
        hc.setMaximumPoolSize(1);
        hc.setPoolName(prefix + "pool");
        pool = new HikariDataSource(hc);
    }

    /**
     * {@code query}'s first column (a statistics counter), read on the pool's connection after
     * flushing that backend's pending statistics, so it includes the store's latest statements.
     */
    long counter(String query, String... parameters) throws SQLException {
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            s.execute("SELECT pg_stat_force_next_flush()");
            s.execute("SELECT 1");  // the flush happens when a transaction ends
            s.execute("SELECT pg_stat_clear_snapshot()");
            try (PreparedStatement ps = c.prepareStatement(query)) {
                for (int i = 0; i < parameters.length; i++) {
                    ps.setString(i + 1, parameters[i]);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        }
    }

    /** Closes the pool and drops the schema with everything in it. */
    @Override
    public void close() throws SQLException {
        pool.close();
        PostgresTaskStoreTest.execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }
}
