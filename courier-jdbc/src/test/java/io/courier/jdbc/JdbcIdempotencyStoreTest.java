package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.IdempotencyStore.Claim;
import io.courier.TransportClosedException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@link JdbcIdempotencyStore} adds to the conformance suite: its table, cleanup, closed transport. */
class JdbcIdempotencyStoreTest {

    @TempDir
    Path dir;

    @Test
    void expiredKeysAreDeletedByPurgeAndByTheTransportsCleanupButLiveOnesStay() throws Exception {
        try (JdbcTransport transport = JdbcTransport.sqlite(dir.resolve("purge.db")).tablePrefix("app_").build()) {
            JdbcIdempotencyStore store = JdbcIdempotencyStore.of(transport);
            String done = ((Claim.Acquired) store.tryClaim("done", Duration.ofMinutes(1))).token();
            store.complete("done", done, Duration.ofMillis(200));
            store.tryClaim("lapsed", Duration.ofMillis(200));
            store.tryClaim("held", Duration.ofMinutes(10));
            String kept = ((Claim.Acquired) store.tryClaim("kept", Duration.ofMinutes(1))).token();
            store.complete("kept", kept, Duration.ofDays(1));
            assertThat(rows(transport)).isEqualTo(4);

            await().atMost(Duration.ofSeconds(10)).until(() -> {
                store.purgeExpired();
                return rows(transport) == 2;
            });
            assertThat(rows(transport)).isEqualTo(2);
            assertThat(store.tryClaim("held", Duration.ofMinutes(1))).isInstanceOf(Claim.InProgress.class);
            assertThat(store.tryClaim("kept", Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);

            store.tryClaim("lapsed-again", Duration.ofMillis(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                transport.cleanup();
                return rows(transport) == 2;
            });
        }
    }

    @Test
    void aStandaloneStoreSharesKeysWithTheTransportsStoreOnOneDatabaseAndCleansUpByItself() throws Exception {
        Path file = dir.resolve("shared.db");
        try (JdbcTransport transport = JdbcTransport.sqlite(file).tablePrefix("app_").build();
             JdbcIdempotencyStore standalone = JdbcIdempotencyStore.open(JdbcTransport.sqlite(file).tablePrefix("app_")
                     .cleanupInterval(Duration.ofSeconds(1)))) {
            JdbcIdempotencyStore ofTransport = JdbcIdempotencyStore.of(transport);
            assertThat(standalone.tryClaim("k", Duration.ofMinutes(1))).isInstanceOf(Claim.Acquired.class);
            assertThat(ofTransport.tryClaim("k", Duration.ofMinutes(1))).isInstanceOf(Claim.InProgress.class);

            standalone.tryClaim("lapses", Duration.ofMillis(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> rows(transport) == 1);   // its own cleanup ran
            assertThat(standalone.toString()).contains("SQLite file").contains("app_*");

            standalone.close();
            assertThatThrownBy(() -> standalone.tryClaim("k", Duration.ofMinutes(1)))
                    .isInstanceOf(TransportClosedException.class).hasMessageContaining("idempotency store");
            assertThat(ofTransport.tryClaim("k", Duration.ofMinutes(1))).isInstanceOf(Claim.InProgress.class);
        }
    }

    @Test
    void aClosedTransportsStoreFailsClearly() {
        JdbcTransport transport = JdbcTransport.sqlite(dir.resolve("closed.db")).build();
        JdbcIdempotencyStore store = JdbcIdempotencyStore.of(transport);
        transport.close();
        assertThatThrownBy(() -> store.tryClaim("k", Duration.ofMinutes(1))).isInstanceOf(TransportClosedException.class);
    }

    private static int rows(JdbcTransport transport) throws SQLException {
        try (Connection c = transport.dataSource().getConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + transport.tablePrefix() + "idempotency_keys")) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
