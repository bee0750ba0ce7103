package io.courier.jdbc;

import io.courier.testkit.fault.TcpProxy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.jdbc.internal.MessageStore;
import io.courier.jdbc.internal.PostgresDialect;
import io.courier.jdbc.internal.Tables;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The SQL transport on the test PostgreSQL server, in a schema of its own per test. */
class PostgresTransportTest extends JdbcTransportContractTest {

    private String schema;

    @BeforeEach
    void createSchema() {
        schema = Postgres.createSchema();
    }

    @AfterEach
    void dropSchema() {
        Postgres.dropSchema(schema);
    }

    @Override
    protected JdbcTransport.Builder builder() {
        return JdbcTransport.postgres(Postgres.url(schema), Postgres.USER, "").maxPoolSize(6);
    }

    @Override
    protected Connection rawConnection() throws Exception {
        return DriverManager.getConnection(Postgres.url(schema), Postgres.USER, "");
    }

    /**
     * Groups that register while publishers publish get every message of the topic exactly once: what
     * a publisher fans out and what a registration backfills never overlap and never leave a gap
     * (the per-topic lock orders them). An overlap would fail publishes (the fan-out is a plain insert).
     */
    @Test
    void groupsRegisteredWhilePublishersPublishGetEveryMessageExactlyOnce() throws Exception {
        JdbcTransport t = open();
        MessageStore store = new MessageStore(new PostgresDialect(), new Tables(JdbcTransport.DEFAULT_TABLE_PREFIX));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong published = new AtomicLong();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> publishers = new ArrayList<>();
        for (int p = 0; p < 2; p++) {
            Thread thread = new Thread(() -> {
                while (!stop.get()) {
                    List<Message> batch = new ArrayList<>();
                    for (int i = 0; i < 20; i++) {
                        batch.add(Message.ofText("m"));
                    }
                    try {
                        t.publisher().publishAll("orders", batch).join();
                        published.addAndGet(batch.size());
                    } catch (RuntimeException e) {
                        failures.add(e);
                    }
                }
            });
            thread.start();
            publishers.add(thread);
        }
        int groups = 12;
        try (Connection c = rawConnection()) {
            c.setAutoCommit(false);
            for (int g = 0; g < groups; g++) {
                long before = published.get();
                await().atMost(Duration.ofSeconds(30)).until(() -> published.get() >= before + 200);
                store.registerGroup(c, "orders", "group-" + g, StartPosition.EARLIEST, System.currentTimeMillis());
                c.commit();
            }
        } finally {
            stop.set(true);
            for (Thread thread : publishers) {
                thread.join();
            }
        }

        assertThat(failures).isEmpty();
        try (Connection c = rawConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM courier_messages),"
                     + " g.name, count(d.message_row), count(DISTINCT d.message_row) FROM courier_groups g"
                     + " LEFT JOIN courier_deliveries d ON d.group_id = g.id GROUP BY g.name")) {
            int seen = 0;
            while (rs.next()) {
                seen++;
                assertThat(rs.getLong(1)).isEqualTo(published.get());
                assertThat(rs.getLong(3)).as(rs.getString(2)).isEqualTo(published.get());
                assertThat(rs.getLong(4)).as(rs.getString(2)).isEqualTo(published.get());
            }
            assertThat(seen).isEqualTo(groups);
        }
    }

    @Test
    void transactionsCommittedInReverseOrderAreAllDeliveredAndARolledBackOneIsNot() throws Exception {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("ledger", "audit").build(), r);
        JdbcPublisher outbox = t.transactionalPublisher();
        List<Connection> txs = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                Connection tx = DriverManager.getConnection(Postgres.url(schema), Postgres.USER, "");
                tx.setAutoCommit(false);
                txs.add(tx);
            }
            for (int i = 0; i < 4; i++) {
                outbox.publish(txs.get(i), "ledger", Message.ofText("tx" + i));   // row ids in order 0..3
            }
            // A consumer looks while all four are open: it must not move past them.
            t.publisher().publish("ledger", Message.ofText("plain")).join();
            await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);

            txs.get(3).commit();
            txs.get(2).rollback();
            txs.get(1).commit();
            txs.get(0).commit();
        } finally {
            for (Connection c : txs) {
                c.close();
            }
        }

        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 4);
        assertThat(r.texts()).containsExactlyInAnyOrder("plain", "tx3", "tx1", "tx0");
    }

    /**
     * A publish is stored whole or not at all, both as one request (up to 500 messages: insert, fan-out
     * and NOTIFY sent together) and as a transaction of several such requests (larger batches): when the
     * fan-out of the batch's last message fails, no message is left behind, not even the first 500 of a
     * batch of 501, stored by a request that succeeded; once the fan-out works again, publishes go through.
     */
    @Test
    void aPublishWhoseFanOutFailsLeavesNoMessageBehind() throws Exception {
        JdbcTransport t = open();
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("orders", "billing").build(), r);
        try (Connection c = rawConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql"
                    + " AS $$ BEGIN IF NEW.msg_key = 'poison' THEN RAISE EXCEPTION 'deliveries refused by the test';"
                    + " END IF; RETURN NEW; END $$");
            s.execute("CREATE TRIGGER refuse BEFORE INSERT ON courier_deliveries FOR EACH ROW EXECUTE FUNCTION refuse_delivery()");
        }
        for (int size : new int[] {1, 3, 500, 501}) {
            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < size - 1; i++) {
                batch.add(Message.ofText("refused-" + i));
            }
            batch.add(Message.builder().key("poison").payload("refused".getBytes()).build());
            assertThatThrownBy(() -> t.publisher().publishAll("orders", batch).join())
                    .as("a batch of %d", size)
                    .isInstanceOf(CompletionException.class)
                    .hasStackTraceContaining("deliveries refused by the test");
        }
        assertThat(countRows("courier_messages")).isZero();

        try (Connection c = rawConnection(); Statement s = c.createStatement()) {
            s.execute("DROP TRIGGER refuse ON courier_deliveries");
        }
        t.publisher().publishAll("orders", List.of(Message.ofText("a"), Message.ofText("b"))).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 2);
        assertThat(r.texts()).containsExactlyInAnyOrder("a", "b");
        assertThat(countRows("courier_messages")).isEqualTo(2);
    }

    private long countRows(String table) throws Exception {
        try (Connection c = rawConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void aWrongPortGivesAClearConnectionError() {
        assertThatThrownBy(() -> JdbcTransport.postgres(Postgres.url(Postgres.HOST, 1, schema), Postgres.USER, "")
                .connectTimeout(Duration.ofSeconds(1)).build())
                .isInstanceOf(JdbcTransportException.class)
                .satisfies(e -> assertThat(((JdbcTransportException) e).reason()).isEqualTo(JdbcTransportException.Reason.CONNECTION))
                .hasMessageContaining("cannot connect to PostgreSQL at jdbc:postgresql://127.0.0.1:1/test")
                .hasMessageContaining("Check that the database is running");
    }

    @Test
    void aMissingDatabaseGivesAClearLoginError() {
        assertThatThrownBy(() -> JdbcTransport.postgres("jdbc:postgresql://127.0.0.1:5432/no_such_db_" + schema,
                Postgres.USER, "").build())
                .isInstanceOf(JdbcTransportException.class)
                .satisfies(e -> assertThat(((JdbcTransportException) e).reason())
                        .isEqualTo(JdbcTransportException.Reason.AUTHENTICATION))
                .hasMessageContaining("refused the login")
                .hasMessageContaining("no_such_db_");
    }

    @Test
    void aUrlForAnotherDatabaseIsRejectedUpFront() {
        assertThatThrownBy(() -> JdbcTransport.postgres("jdbc:mysql://localhost/test", "u", "p"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("jdbcUrl must start with 'jdbc:postgresql:', but was 'jdbc:mysql://localhost/test'");
    }

    @Test
    void aUserWithoutCreatePermissionGetsAClearError() {
        String role = "courier_noperm_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        Postgres.execute("CREATE ROLE " + role + " LOGIN");
        Postgres.execute("GRANT USAGE ON SCHEMA " + schema + " TO " + role);   // may look, may not create
        try {
            assertThatThrownBy(() -> JdbcTransport.postgres(Postgres.url(schema), role, "").build())
                    .isInstanceOf(JdbcTransportException.class)
                    .satisfies(e -> assertThat(((JdbcTransportException) e).reason())
                            .isEqualTo(JdbcTransportException.Reason.PERMISSION))
                    .hasMessageContaining("denied a permission")
                    .hasMessageContaining("CREATE on the schema");
        } finally {
            Postgres.execute("REVOKE USAGE ON SCHEMA " + schema + " FROM " + role);
            Postgres.execute("DROP ROLE " + role);
        }
    }

    @Test
    void consumersAndPublishersRecoverWhenTheDatabaseComesBack() throws Exception {
        try (TcpProxy proxy = TcpProxy.start(Postgres.HOST, Postgres.PORT)) {
            JdbcTransport t = JdbcTransport.postgres(Postgres.url("127.0.0.1", proxy.port(), schema), Postgres.USER, "")
                    .connectTimeout(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(200)).maxPoolSize(4).build();
            try {
                Recorder r = new Recorder();
                Subscription s = t.subscriber().subscribe(options("orders", "billing").build(), r);
                t.publisher().publish("orders", Message.ofText("before")).join();
                await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);

                proxy.cut();
                assertThatThrownBy(() -> t.publisher().publish("orders", Message.ofText("while down")).join())
                        .isInstanceOf(CompletionException.class)
                        .hasCauseInstanceOf(PublishException.class)
                        .hasMessageContaining("cannot connect");
                assertThat(s.isRunning()).isTrue();

                proxy.heal();
                await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
                    t.publisher().publish("orders", Message.ofText("after")).join();
                    return true;
                });
                await().atMost(Duration.ofSeconds(30)).until(() -> r.texts().contains("after"));
                assertThat(s.isRunning()).isTrue();
            } finally {
                t.close();
            }
        }
    }

    /**
     * Publishes during an outage fail within about one connect timeout, also when many publish at
     * once: a publish queued behind a write that is waiting for a connection used to wait for that
     * write's connect timeout and then for one of its own (4.0 s with a 2 s connect timeout).
     */
    @Test
    void concurrentPublishesDuringAnOutageFailWithinAboutOneConnectTimeout() throws Exception {
        assertThat(publishWaitsDuringOutage(false, 8)).hasSizeGreaterThanOrEqualTo(8)
                .allSatisfy(w -> assertThat(w).isLessThan(OUTAGE_CONNECT_TIMEOUT.multipliedBy(16).dividedBy(10)));
    }

    /**
     * When the network to the database goes silent (packets dropped, nothing reset), the pool's check
     * of an idle connection used to take HikariCP's default 5 s on top of the wait for a connection:
     * 5.0 s for a publish with a 2 s connect timeout. It now fails within about one connect timeout.
     */
    @Test
    void aPublishFailsWithinAboutOneConnectTimeoutWhenTheNetworkGoesSilent() throws Exception {
        assertThat(publishWaitsDuringOutage(true, 1)).isNotEmpty()
                .allSatisfy(w -> assertThat(w).isLessThan(OUTAGE_CONNECT_TIMEOUT.multipliedBy(16).dividedBy(10)));
    }

    private static final Duration OUTAGE_CONNECT_TIMEOUT = Duration.ofSeconds(2);

    /**
     * Opens a transport behind a proxy, publishes once, then cuts the network ({@code silent}: drops
     * packets instead) and lets {@code publishers} threads publish for three connect timeouts.
     */
    private List<Duration> publishWaitsDuringOutage(boolean silent, int publishers) throws Exception {
        try (TcpProxy proxy = TcpProxy.start(Postgres.HOST, Postgres.PORT)) {
            JdbcTransport t = JdbcTransport.postgres(Postgres.url("127.0.0.1", proxy.port(), schema), Postgres.USER, "")
                    .connectTimeout(OUTAGE_CONNECT_TIMEOUT).maxPoolSize(4).build();
            try {
                t.publisher().publish("orders", Message.ofText("before")).join();
                if (silent) {
                    // Not waiting for a result: the pool hands out a connection used in the last 500 ms
                    // without a check, and a statement sent on it into the silent network waits for the OS
                    // to give up (the guide says how socketTimeout bounds that). Let connections idle first.
                    Thread.sleep(700);
                    proxy.blackhole();
                } else {
                    proxy.cut();
                }
                return publishWhileDown(t, publishers, OUTAGE_CONNECT_TIMEOUT.multipliedBy(3));
            } finally {
                proxy.heal();
                t.close();
            }
        }
    }

    /**
     * {@code publishers} threads publish one message after another for {@code during}; returns how long
     * each publish took to fail (every one must fail with a PublishException naming the database).
     */
    private static List<Duration> publishWhileDown(JdbcTransport t, int publishers, Duration during) throws Exception {
        long end = System.nanoTime() + during.toNanos();
        List<Duration> waits = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> unexpected = new CopyOnWriteArrayList<>();
        for (int i = 0; i < publishers; i++) {
            Thread thread = new Thread(() -> {
                while (System.nanoTime() < end) {
                    long start = System.nanoTime();
                    try {
                        t.publisher().publish("orders", Message.ofText("while down")).get(30, java.util.concurrent.TimeUnit.SECONDS);
                        unexpected.add(new AssertionError("a publish succeeded while the database was unreachable"));
                    } catch (java.util.concurrent.ExecutionException e) {
                        waits.add(Duration.ofNanos(System.nanoTime() - start));
                        if (!(e.getCause() instanceof PublishException) || !e.getCause().getMessage().contains("cannot connect")) {
                            unexpected.add(e.getCause());
                        }
                    } catch (Exception e) {
                        unexpected.add(e);
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertThat(unexpected).isEmpty();
        return waits;
    }

    @Test
    void worksOverACallerProvidedDataSource() {
        org.postgresql.ds.PGSimpleDataSource ds = new org.postgresql.ds.PGSimpleDataSource();
        ds.setUrl(Postgres.url(schema));
        ds.setUser(Postgres.USER);
        JdbcTransport t = JdbcTransport.postgres(ds).build();
        try {
            Recorder r = new Recorder();
            t.subscriber().subscribe(options("ds", "g").build(), r);
            t.publisher().publish("ds", Message.ofText("via data source")).join();
            await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);
            assertThat(t.name()).isEqualTo("postgresql");
        } finally {
            t.close();
        }
    }
}
