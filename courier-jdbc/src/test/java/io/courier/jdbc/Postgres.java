package io.courier.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * The test PostgreSQL server (127.0.0.1:5432, trust auth, database {@code test}) and throwaway
 * schemas on it, one per test, so tests never see each other's tables.
 */
final class Postgres {

    static final String HOST = System.getProperty("courier.test.pg.host", "127.0.0.1");
    static final int PORT = Integer.getInteger("courier.test.pg.port", 5432);
    static final String DATABASE = "test";
    static final String USER = "postgres";

    private Postgres() {
    }

    static String url(String schema) {
        return url(HOST, PORT, schema);
    }

    static String url(String host, int port, String schema) {
        return "jdbc:postgresql://" + host + ":" + port + "/" + DATABASE + (schema == null ? "" : "?currentSchema=" + schema);
    }

    static Connection connect() throws SQLException {
        return DriverManager.getConnection(url(null), USER, "");
    }

    /** Creates a new empty schema and returns its name. */
    static String createSchema() {
        String schema = "courier_t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        execute("CREATE SCHEMA " + schema);
        return schema;
    }

    static void dropSchema(String schema) {
        execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }

    static void execute(String sql) {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(sql + ": " + e.getMessage(), e);
        }
    }
}
