package io.courier.outbox;

import io.courier.Message;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.jdbc.JdbcTransport;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.RabbitMqTransport;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/** Databases and brokers of this machine, for the outbox tests. */
final class OutboxTestSupport {

    static final String PG_URL = "jdbc:postgresql://127.0.0.1:5432/test";

    private OutboxTestSupport() {
    }

    /** A fresh table prefix, so that tests on one PostgreSQL database do not see each other. */
    static String prefix() {
        return "ob" + UUID.randomUUID().toString().replace("-", "").substring(0, 10).toLowerCase(Locale.ROOT) + "_";
    }

    static JdbcTransport.Builder database(String kind, Path dir, String prefix) {
        return switch (kind) {
            case "sqlite" -> JdbcTransport.sqlite(dir.resolve("outbox.db")).tablePrefix(prefix);
            case "postgres" -> JdbcTransport.postgres(PG_URL, "postgres", "").tablePrefix(prefix);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    /** Drops the PostgreSQL tables of {@code prefix} (SQLite files go with the temp directory). */
    static void dropTables(String kind, String prefix) throws SQLException {
        if (!kind.equals("postgres")) {
            return;
        }
        try (Connection c = java.sql.DriverManager.getConnection(PG_URL, "postgres", "");
             Statement st = c.createStatement()) {
            for (String t : List.of("outbox_parked", "deliveries", "processed", "idempotency_keys", "groups", "messages",
                    "schema_version", "orders", "tickets")) {
                st.execute("DROP TABLE IF EXISTS " + prefix + t + " CASCADE");
            }
        }
    }

    static RabbitMqConfig.Builder rabbit() {
        return RabbitMqConfig.builder().host("127.0.0.1").port(5672).credentials("guest", "guest")
                .connectionName("courier-outbox-test").recoveryInterval(Duration.ofMillis(300))
                .publishConfirmTimeout(Duration.ofSeconds(5));
    }

    static RabbitMqTransport rabbitTransport() {
        return RabbitMqTransport.connect(rabbit().build());
    }

    /** Collects what arrives on {@code topic} for a fresh group, in arrival order (one handler thread). */
    static final class Arrivals implements AutoCloseable {
        final List<Message> messages = Collections.synchronizedList(new ArrayList<>());
        private final Subscription subscription;

        Arrivals(Transport transport, String topic) {
            this.subscription = transport.subscriber().subscribe(SubscriptionOptions.builder(topic, "checker")
                    .concurrency(1).startPosition(StartPosition.EARLIEST).build(), d -> messages.add(d.message()));
        }

        List<Message> snapshot() {
            synchronized (messages) {
                return new ArrayList<>(messages);
            }
        }

        List<String> ids() {
            return snapshot().stream().map(Message::id).toList();
        }

        @Override
        public void close() {
            subscription.close();
        }
    }
}
