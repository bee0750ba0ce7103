package io.courier.saga;

import io.courier.jdbc.JdbcTransport;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/** The databases of the saga tests. */
final class SagaTestSupport {

    static final String PG_URL = "jdbc:postgresql://127.0.0.1:5432/test";

    private SagaTestSupport() {
    }

    static String prefix() {
        return "sg" + UUID.randomUUID().toString().replace("-", "").substring(0, 10).toLowerCase(Locale.ROOT) + "_";
    }

    static JdbcTransport.Builder database(String kind, Path dir, String prefix) {
        return switch (kind) {
            case "sqlite" -> JdbcTransport.sqlite(dir.resolve("sagas.db")).tablePrefix(prefix);
            case "postgres" -> JdbcTransport.postgres(PG_URL, "postgres", "").tablePrefix(prefix);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    static void dropTables(String kind, String prefix) throws SQLException {
        if (!"postgres".equals(kind)) {
            return;
        }
        try (Connection c = DriverManager.getConnection(PG_URL, "postgres", ""); Statement st = c.createStatement()) {
            for (String t : List.of("sagas", "saga_log", "saga_replies", "saga_schema", "outbox_parked", "outbox_schema",
                    "deliveries", "processed", "idempotency_keys", "groups", "messages", "schema_version", "orders", "stock",
                    "reservations", "charges", "notifications")) {
                st.execute("DROP TABLE IF EXISTS " + prefix + t + " CASCADE");
            }
        }
    }
}
