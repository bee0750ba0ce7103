package io.courier.benchmarks;

import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.jdbc.JdbcTransport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The SQL transport ({@code courier-jdbc}) against plain JDBC doing the same durable work
 * ({@link RawSqlQueue}), on an embedded SQLite file and on PostgreSQL.
 *
 * <p>Both sides use the same settings: {@value #PUBLISHERS} publisher threads publishing
 * {@value #PUBLISH_BATCH} messages per call (one transaction per call on the raw side; Courier's
 * group commit may put several calls in one), {@value #CONCURRENCY} consumer threads, claims of at
 * most {@value #CLAIM_BATCH} deliveries, at most {@value #MAX_IN_FLIGHT} claimed and unacknowledged,
 * a 30 s lease, the same SQLite pragmas (WAL, {@code synchronous=NORMAL}, 5 s busy timeout), a
 * HikariCP pool of 10, and the same wake-ups (an in-process signal after each publish commit, a
 * 100 ms poll on SQLite; on PostgreSQL also NOTIFY in the publishing transaction, one LISTEN
 * connection and a 1 s poll).
 *
 * <p>Each phase gets a new SQLite file in a temporary directory, or a new PostgreSQL schema in
 * database {@code test} on 127.0.0.1:5432 (user {@code postgres}, trust), both deleted afterwards.
 */
final class JdbcScenarios {

    static final int PUBLISHERS = 2;
    static final int PUBLISH_BATCH = 100;
    static final int CONCURRENCY = 4;
    static final int CLAIM_BATCH = JdbcTransport.DEFAULT_CLAIM_BATCH_SIZE;
    static final int MAX_IN_FLIGHT = CONCURRENCY * CLAIM_BATCH;

    static final String POSTGRES_URL = "jdbc:postgresql://127.0.0.1:5432/test";
    static final String POSTGRES_USER = "postgres";

    private static final String TOPIC = "bench";
    private static final String GROUP = "g";

    private JdbcScenarios() {
    }

    /** Untimed warm-up per side and round, before a database's first measured phase. */
    static final int WARMUP_SECONDS = 5;
    static final int WARMUP_ROUNDS = 2;

    /** Databases whose code paths were warmed up in this JVM. */
    private static final Set<String> WARMED = ConcurrentHashMap.newKeySet();

    static List<Scenario> scenarios() {
        return List.of(
                warmingUp("SQLite", sqlite("sqlite-e2e-100b", 100)),
                warmingUp("SQLite", sqlite("sqlite-e2e-1k", 1024)),
                warmingUp("PostgreSQL", postgres("postgres-e2e-100b", 100)),
                warmingUp("PostgreSQL", postgres("postgres-e2e-1k", 1024)));
    }

    /**
     * Runs both pipelines of {@code database} a few times, untimed, before the first measured phase
     * on it in this JVM. Without it the first phase (Courier's) runs on a cold JVM, interpreting and
     * compiling the driver, pool and transport code, while the reference then runs warm on the very
     * same driver and pool code: a bias of 2x and more on this machine. Happens inside the pipeline
     * factory, which the driver calls before it starts its clock.
     */
    private static Scenario warmingUp(String database, Scenario s) {
        return new Scenario(s.name(), s.description(), s.reference(), s.payloadBytes(), s.publishers(), s.batchSize(),
                runId -> {
                    warmUp(database, s);
                    return s.courier().create(runId);
                },
                runId -> {
                    warmUp(database, s);
                    return s.raw().create(runId);
                });
    }

    private static void warmUp(String database, Scenario s) throws Exception {
        if (!WARMED.add(database)) {
            return;
        }
        System.out.printf("warming up on %s: both sides %d x %d s, not measured%n", database, WARMUP_ROUNDS, WARMUP_SECONDS);
        for (int round = 0; round < WARMUP_ROUNDS; round++) {
            Driver.throughput(s, s.courier(), WARMUP_SECONDS);
            Driver.throughput(s, s.raw(), WARMUP_SECONDS);
        }
    }

    private static Scenario sqlite(String name, int payloadBytes) {
        return new Scenario(name, "SQLite file (WAL, synchronous=NORMAL), " + describe(payloadBytes),
                "plain JDBC (sqlite-jdbc) + HikariCP, same SQL", payloadBytes, PUBLISHERS, PUBLISH_BATCH,
                runId -> {
                    TempDirectory dir = TempDirectory.create(runId);
                    return closing(new CourierSql(JdbcTransport.sqlite(dir.path().resolve("courier.db")).build()), dir);
                },
                runId -> {
                    TempDirectory dir = TempDirectory.create(runId);
                    return closing(RawSqlQueue.sqlite(dir.path().resolve("raw.db")), dir);
                });
    }

    private static Scenario postgres(String name, int payloadBytes) {
        return new Scenario(name, "PostgreSQL 127.0.0.1 (synchronous_commit as configured), " + describe(payloadBytes),
                "plain JDBC (pgjdbc) + HikariCP, same SQL", payloadBytes, PUBLISHERS, PUBLISH_BATCH,
                runId -> {
                    PostgresSchema schema = PostgresSchema.create("bench_courier_" + runId);
                    // A prefix of our own, so other users of database 'test' do not wake our consumers.
                    return closing(new CourierSql(JdbcTransport.postgres(schema.url(), POSTGRES_USER, "")
                            .tablePrefix("bench_").build()), schema);
                },
                runId -> {
                    PostgresSchema schema = PostgresSchema.create("bench_raw_" + runId);
                    return closing(RawSqlQueue.postgres(schema.url(), POSTGRES_USER, "bench_raw_" + runId), schema);
                });
    }

    private static String describe(int payloadBytes) {
        return payloadBytes + "-byte payloads, " + PUBLISHERS + " publishers x " + PUBLISH_BATCH + ", "
                + CONCURRENCY + " consumer threads, claims of " + CLAIM_BATCH;
    }

    /** Courier's JDBC transport behind a router, as an application uses it. */
    private static final class CourierSql implements Pipeline {
        private final JdbcTransport transport;
        private final Router router;

        CourierSql(JdbcTransport transport) {
            this.transport = transport;
            this.router = Router.builder(transport).build();
        }

        @Override
        public void start(Consumer<byte[]> onMessage) {
            router.route(SubscriptionOptions.builder(TOPIC, GROUP).concurrency(CONCURRENCY).maxInFlight(MAX_IN_FLIGHT).build(),
                    d -> onMessage.accept(d.message().payload())).start();
        }

        @Override
        public void publish(List<byte[]> batch) {
            List<Message> messages = new ArrayList<>(batch.size());
            for (byte[] b : batch) {
                messages.add(Message.of(b));
            }
            router.publisher().publishAll(TOPIC, messages).join();
        }

        @Override
        public void close() {
            try {
                router.close();
            } finally {
                transport.close();
            }
        }
    }

    /** Closes {@code pipeline}, then {@code resource} (the database it used), even when the first fails. */
    static Pipeline closing(Pipeline pipeline, AutoCloseable resource) {
        return new Pipeline() {
            @Override
            public void start(Consumer<byte[]> onMessage) throws Exception {
                pipeline.start(onMessage);
            }

            @Override
            public void publish(List<byte[]> batch) throws Exception {
                pipeline.publish(batch);
            }

            @Override
            public void close() throws Exception {
                try (resource) {
                    pipeline.close();
                }
            }
        };
    }

    /** A temporary directory for one phase's SQLite files, deleted with its contents on close. */
    record TempDirectory(Path path) implements AutoCloseable {

        static TempDirectory create(String runId) throws IOException {
            return new TempDirectory(Files.createTempDirectory("courier-bench-" + runId + "-"));
        }

        @Override
        public void close() throws IOException {
            try (Stream<Path> files = Files.walk(path)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
        }
    }

    /** A PostgreSQL schema of its own for one phase, dropped with everything in it on close. */
    record PostgresSchema(String name) implements AutoCloseable {

        static PostgresSchema create(String name) throws SQLException {
            // Every phase starts right after a checkpoint. A phase writes several hundred MB of WAL, so
            // the server checkpoints every phase or two on its own, and the writes that follow a
            // checkpoint (full page images) slowed whichever side's phase it fell in: rounds of one
            // side varied from 25,000 to 43,000 msg/s. Starting each phase at one checkpoint puts the
            // next one at the same point of every phase.
            execute("CHECKPOINT");
            execute("CREATE SCHEMA " + name);
            return new PostgresSchema(name);
        }

        /** A URL whose connections create and find tables in this schema. */
        String url() {
            return POSTGRES_URL + "?currentSchema=" + name;
        }

        @Override
        public void close() throws SQLException {
            execute("DROP SCHEMA " + name + " CASCADE");
        }

        private static void execute(String sql) throws SQLException {
            try (Connection c = DriverManager.getConnection(POSTGRES_URL, POSTGRES_USER, "");
                 Statement s = c.createStatement()) {
                s.execute(sql);
            }
        }
    }
}
