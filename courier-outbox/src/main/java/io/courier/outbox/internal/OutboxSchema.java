package io.courier.outbox.internal;

import io.courier.jdbc.JdbcTransport;
import io.courier.sql.DatabaseKind;
import io.courier.sql.Migration;
import io.courier.sql.Migrator;
import io.courier.sql.TablePrefix;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/** The outbox's own table, beside the SQL transport's, created and upgraded by the shared migrator. */
final class OutboxSchema {

    private OutboxSchema() {
    }

    /** Creates or upgrades {@code <prefix>outbox_parked}; versions are kept in {@code <prefix>outbox_schema}. */
    static void migrate(JdbcTransport transport) throws SQLException {
        DatabaseKind kind;
        try (Connection c = transport.dataSource().getConnection()) {
            kind = DatabaseKind.detect(c);
        }
        TablePrefix prefix = new TablePrefix(transport.tablePrefix());
        String parked = prefix.name("outbox_parked");
        Migrator.forTable(transport.dataSource(), kind, prefix, "outbox_schema").apply(List.of(
                new Migration(1, "parked outbox messages", List.of(
                        "CREATE TABLE " + parked + " (id " + kind.autoIncrementPrimaryKey() + ", destination VARCHAR(100) NOT NULL,"
                                + " topic VARCHAR(400) NOT NULL, message_id VARCHAR(200) NOT NULL, msg_key TEXT,"
                                + " headers TEXT NOT NULL, payload " + kind.blobType() + " NOT NULL, timestamp_ns BIGINT NOT NULL,"
                                + " reason TEXT NOT NULL, error_class VARCHAR(400) NOT NULL, attempts INTEGER NOT NULL,"
                                + " parked_at BIGINT NOT NULL, UNIQUE (destination, message_id))"))));
    }
}
