package io.courier.tasks.sql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.SQLException;
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

    /** Closes the pool and drops the schema with everything in it. */
    @Override
    public void close() throws SQLException {
        pool.close();
        PostgresTaskStoreTest.execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }
}
