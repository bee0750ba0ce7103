package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SQL transport on an embedded SQLite file in a temporary directory. */
class SqliteTransportTest extends JdbcTransportContractTest {

    @TempDir
    Path dir;

    @Override
    protected JdbcTransport.Builder builder() {
        return JdbcTransport.sqlite(dir.resolve("nested/dirs/courier.db"));
    }

    @Override
    protected java.sql.Connection rawConnection() throws Exception {
        return java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("nested/dirs/courier.db"));
    }

    @Test
    void createsTheFileAndItsDirectoriesOnFirstUseInWalMode() throws Exception {
        JdbcTransport t = open();
        assertThat(dir.resolve("nested/dirs/courier.db")).exists();
        try (var c = t.dataSource().getConnection(); var s = c.createStatement();
             var rs = s.executeQuery("PRAGMA journal_mode")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualToIgnoringCase("wal");
        }
        assertThat(t.name()).isEqualTo("sqlite");
    }

    @Test
    void transportsStartingAtOnceOnANewFileMigrateItOnce() {
        List<CompletableFuture<JdbcTransport>> starting = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            starting.add(CompletableFuture.supplyAsync(this::open));
        }
        List<JdbcTransport> transports = starting.stream().map(CompletableFuture::join).toList();
        assertThat(countRows(transports.get(0), "schema_version")).isEqualTo(3);
    }

    @Test
    void aConsumerOfAnotherTransportOnTheSameFileReceivesByPolling() {
        JdbcTransport publisherSide = open();
        JdbcTransport consumerSide = open(b -> b.pollInterval(Duration.ofMillis(50)));
        Recorder r = new Recorder();
        consumerSide.subscriber().subscribe(options("shared", "g").build(), r);

        publisherSide.publisher().publish("shared", Message.ofText("across")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 1);
    }

    @Test
    void messagesPublishedByAnotherProcessReachThisProcess() throws Exception {
        JdbcTransport t = open(b -> b.pollInterval(Duration.ofMillis(50)));
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("shared", "here").build(), r);

        Process child = ChildProcess.start("publish", dir.resolve("nested/dirs/courier.db").toString(), "shared", "50");
        String output = new String(child.getInputStream().readAllBytes());
        assertThat(child.waitFor()).as(output).isZero();

        await().atMost(Duration.ofSeconds(10)).until(() -> r.count() == 50);
        assertThat(r.texts()).doesNotHaveDuplicates().allMatch(s -> s.startsWith("from child "));
    }

    @Test
    void redeliversTheMessageOfAConsumerProcessKilledMidHandler() throws Exception {
        JdbcTransport t = open();
        t.subscriber().subscribe(options("jobs", "workers").build(), d -> {
            throw new IllegalStateException("registers the group only");
        }).close();
        t.publisher().publish("jobs", Message.ofText("the job")).join();

        Process child = ChildProcess.start("hang", dir.resolve("nested/dirs/courier.db").toString(), "jobs", "workers");
        try {
            java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
            String line;
            do {
                line = out.readLine();
            } while (line != null && !line.startsWith("handling "));
            assertThat(line).isEqualTo("handling the job");
        } finally {
            child.destroyForcibly();   // SIGKILL: no graceful close, the lease stays taken
            child.waitFor();
        }

        Recorder r = new Recorder();
        t.subscriber().subscribe(options("jobs", "workers").build(), r);
        await().atMost(Duration.ofSeconds(15)).until(() -> r.count() == 1);
        assertThat(r.deliveries.get(0).attempt()).isGreaterThanOrEqualTo(2);
        assertThat(r.texts()).containsExactly("the job");
    }

    /**
     * Another process holding the write lock past the busy timeout: a publish fails with an error that
     * says so (never a silent drop or a hang), the consumer keeps retrying, and once the lock is gone
     * both carry on; every message whose publish succeeded is delivered.
     */
    @Test
    void aWriteLockHeldPastTheBusyTimeoutFailsPublishesClearlyAndConsumersResume() throws Exception {
        JdbcTransport t = open(b -> b.busyTimeout(Duration.ofMillis(200)));
        Recorder r = new Recorder();
        t.subscriber().subscribe(options("locked", "g").build(), r);
        t.publisher().publish("locked", Message.ofText("before")).join();
        await().atMost(Duration.ofSeconds(15)).until(() -> r.count() == 1);

        try (java.sql.Connection holder = rawConnection(); var s = holder.createStatement()) {
            s.execute("BEGIN EXCLUSIVE");
            CompletableFuture<?> during = t.publisher().publish("locked", Message.ofText("during"));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> during.get(15, java.util.concurrent.TimeUnit.SECONDS))
                    .hasCauseInstanceOf(io.courier.PublishException.class)
                    .hasMessageContaining("stayed locked by another connection")
                    .hasMessageContaining("busyTimeout");
            s.execute("ROLLBACK");
        }

        t.publisher().publish("locked", Message.ofText("after")).join();
        await().atMost(Duration.ofSeconds(15)).until(() -> r.count() == 2);
        assertThat(r.texts()).containsExactly("before", "after");
    }

    @Test
    void aFileThatCannotBeCreatedGivesAClearError() throws Exception {
        Path blocker = dir.resolve("a-file");
        Files.writeString(blocker, "not a directory");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> JdbcTransport.sqlite(blocker.resolve("db.sqlite")).build())
                .isInstanceOf(JdbcTransportException.class)
                .hasMessageContaining("cannot create the directory")
                .hasMessageContaining("a-file");
    }

    @Test
    void sixteenIdempotentHandlersWritingWhilePublishesGoOnNeverFailOnTheWriteLock() throws Exception {
        JdbcTransport t = open();
        try (java.sql.Connection c = t.dataSource().getConnection(); java.sql.Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ledger (message_id TEXT PRIMARY KEY, amount INTEGER NOT NULL)");
            s.execute("CREATE TABLE totals (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
            s.execute("INSERT INTO totals (id, n) VALUES (1, 0)");
        }
        int messages = 600;
        java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        JdbcIdempotentHandler idempotent = JdbcIdempotentHandler.of(t, (d, tx) -> {
            runs.incrementAndGet();
            try (var insert = tx.prepareStatement("INSERT INTO ledger (message_id, amount) VALUES (?, 1)");
                 var update = tx.prepareStatement("UPDATE totals SET n = n + 1 WHERE id = 1")) {
                insert.setString(1, d.message().id());
                insert.executeUpdate();
                update.executeUpdate();
            }
            // the rest of the handler's work inside its transaction (a lookup, a computation): 10 ms
            java.util.concurrent.locks.LockSupport.parkNanos(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(10));
        });
        t.subscriber().subscribe(options("payments", "ledger").concurrency(16).maxInFlight(64).build(), d -> {
            try {
                idempotent.handle(d);
            } catch (Exception | Error e) {
                failures.add(e);
                throw e;
            }
        });
        // Publishers keep writing while the handlers run, one message per call, from four threads.
        List<CompletableFuture<Void>> publishers = new ArrayList<>();
        for (int p = 0; p < 4; p++) {
            int publisher = p;
            publishers.add(CompletableFuture.runAsync(() -> {
                for (int i = publisher; i < messages; i += 4) {
                    t.publisher().publish("payments", Message.ofText("pay-" + i)).join();
                }
            }));
        }
        CompletableFuture.allOf(publishers.toArray(CompletableFuture[]::new)).get(2, java.util.concurrent.TimeUnit.MINUTES);

        await().atMost(Duration.ofMinutes(2))
                .until(() -> countRows(t, "ledger", false) == messages || !failures.isEmpty());
        assertThat(failures).as("handler failures (SQLITE_BUSY?)").isEmpty();
        assertThat(runs).hasValue(messages);
        try (java.sql.Connection c = t.dataSource().getConnection(); java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("SELECT n FROM totals WHERE id = 1")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(messages);
        }
        assertThat(countRows(t, "processed")).isEqualTo(messages);
    }
}
