package io.courier.outbox.internal;

import io.courier.jdbc.JdbcTransport;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/** The outbox's own table, beside the SQL transport's. */
final class OutboxSchema {

    private OutboxSchema() {
    }

    /** Creates {@code <prefix>outbox_parked} and its index when missing, in {@code c}'s transaction. */
    static void migrate(Connection c, JdbcTransport transport) throws SQLException {
        boolean pg = "postgresql".equals(transport.name());
        String p = transport.tablePrefix();
        try (Statement st = c.createStatement()) {
            if (pg) {
                // Concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL's catalog: serialize.
                st.execute("SELECT pg_advisory_xact_lock(" + KeyHash.of(p + "outbox schema") + ")");
            }
            st.execute("CREATE TABLE IF NOT EXISTS " + p + "outbox_parked ("
                    + (pg ? "id BIGSERIAL PRIMARY KEY, " : "id INTEGER PRIMARY KEY AUTOINCREMENT, ")
                    + "destination VARCHAR(100) NOT NULL, topic VARCHAR(400) NOT NULL, message_id VARCHAR(200) NOT NULL, "
                    + "msg_key TEXT, headers TEXT NOT NULL, payload " + (pg ? "BYTEA" : "BLOB") + " NOT NULL, "
                    + "timestamp_ns BIGINT NOT NULL, reason TEXT NOT NULL, error_class VARCHAR(400) NOT NULL, "
                    + "attempts INTEGER NOT NULL, parked_at BIGINT NOT NULL, UNIQUE (destination, message_id))");
        }
    }
}
