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
        assertThat(countRows(transports.get(0), "schema_version")).isEqualTo(1);
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
    void aFileThatCannotBeCreatedGivesAClearError() throws Exception {
        Path blocker = dir.resolve("a-file");
        Files.writeString(blocker, "not a directory");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> JdbcTransport.sqlite(blocker.resolve("db.sqlite")).build())
                .isInstanceOf(JdbcTransportException.class)
                .hasMessageContaining("cannot create the directory")
                .hasMessageContaining("a-file");
    }
}
