package io.courier.sql;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;

/**
 * The test PostgreSQL server (127.0.0.1:5432, trust auth, database {@code test}, user {@code postgres})
 * with throwaway schemas, and SQLite pools on temporary files.
 */
final class TestDatabases {

    static final String HOST = System.getProperty("courier.test.pg.host", "127.0.0.1");
    static final int PORT = Integer.getInteger("courier.test.pg.port", 5432);
    static final String USER = "postgres";

    private TestDatabases() {
    }

    static String url(String schema) {
        return "jdbc:postgresql://" + HOST + ":" + PORT + "/test" + (schema == null ? "" : "?currentSchema=" + schema);
    }

    /** A new empty schema's name. */
    static String createSchema() {
        String schema = "courier_sql_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        execute("CREATE SCHEMA " + schema);
        return schema;
    }

    static void dropSchema(String schema) {
        execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }

    static void execute(String sql) {
        try (Connection c = DriverManager.getConnection(url(null), USER, ""); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }

    /** A pool of its own (like another process) into {@code schema}. */
    static SqlPool postgresPool(String schema, String name) throws SQLException {
        return SqlPool.postgres(url(schema), USER, "", SqlPool.Settings.builder(name).maxPoolSize(2).build());
    }

    /** A pool of its own (like another process) on the SQLite file {@code file}. */
    static SqlPool sqlitePool(Path file, String name) throws Exception {
        return SqlPool.sqlite(file, SqlPool.Settings.builder(name).maxPoolSize(2).busyTimeout(Duration.ofSeconds(30)).build());
    }
}
