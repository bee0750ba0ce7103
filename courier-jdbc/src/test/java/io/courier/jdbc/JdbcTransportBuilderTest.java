package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Validation messages of the builder; no database needed. */
class JdbcTransportBuilderTest {

    private final JdbcTransport.Builder b = JdbcTransport.sqlite(Path.of("unused.db"));

    @Test
    void rejectsInvalidSettingsWithWhatWasExpectedAndWhatWasGiven() {
        assertThatThrownBy(() -> b.claimBatchSize(0))
                .hasMessage("claimBatchSize must be between 1 and 1000, but was 0");
        assertThatThrownBy(() -> b.maxPayloadBytes(0))
                .hasMessage("maxPayloadBytes must be between 1 and 16777216, but was 0");
        assertThatThrownBy(() -> b.pollInterval(Duration.ZERO))
                .hasMessage("pollInterval must be between PT0.01S and PT1H, but was PT0S");
        assertThatThrownBy(() -> b.retention(Duration.ofSeconds(-1)))
                .hasMessage("retention must be between PT0S and PT87600H, but was PT-1S");
        assertThatThrownBy(() -> b.connectTimeout(Duration.ofMillis(10)))
                .hasMessage("connectTimeout must be between PT0.25S and PT10M, but was PT0.01S");
        assertThatThrownBy(() -> b.tablePrefix("Robert'); DROP TABLE students;--"))
                .hasMessageStartingWith("tablePrefix must match [a-z_][a-z0-9_]{0,39}")
                .hasMessageEndingWith("but was 'Robert'); DROP TABLE students;--'");
        assertThatThrownBy(() -> b.maxPoolSize(1))
                .hasMessage("maxPoolSize must be between 2 and 1000, but was 1");
    }

    /**
     * Settings that were accepted and then failed or misbehaved: an Integer.MAX_VALUE payload limit
     * (more than PostgreSQL takes in one message, and 50 such rows go in one statement), a pending
     * queue of 2^31 entries (allocated at build), a poll interval or cleanup interval of a nanosecond
     * (a loop hammering the database), durations whose milliseconds overflow a long.
     */
    @Test
    void rejectsSettingsBeyondWhatTheTransportCanDo() {
        assertThatThrownBy(() -> b.maxPayloadBytes(Integer.MAX_VALUE))
                .hasMessage("maxPayloadBytes must be between 1 and 16777216, but was 2147483647");
        assertThatThrownBy(() -> b.maxPayloadBytes(JdbcTransport.MAX_PAYLOAD_BYTES_LIMIT + 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.maxPendingPublishes(Integer.MAX_VALUE))
                .hasMessage("maxPendingPublishes must be between 1 and 1000000, but was 2147483647");
        assertThatThrownBy(() -> b.pollInterval(Duration.ofNanos(1)))
                .hasMessage("pollInterval must be between PT0.01S and PT1H, but was PT0.000000001S");
        assertThatThrownBy(() -> b.cleanupInterval(Duration.ofMillis(1)))
                .hasMessage("cleanupInterval must be between PT1S and PT24H, but was PT0.001S");
        assertThatThrownBy(() -> b.busyTimeout(Duration.ofNanos(1)))
                .hasMessage("busyTimeout must be between PT0.01S and PT10M, but was PT0.000000001S");
        assertThatThrownBy(() -> b.connectTimeout(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("connectTimeout must be between");
        assertThatThrownBy(() -> b.retention(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("retention must be between");
        assertThatThrownBy(() -> b.idempotencyRetention(Duration.ZERO))
                .hasMessage("idempotencyRetention must be between PT1S and PT87600H, but was PT0S");

        // The limits themselves are accepted.
        b.maxPayloadBytes(JdbcTransport.MAX_PAYLOAD_BYTES_LIMIT).maxPendingPublishes(1_000_000)
                .pollInterval(Duration.ofMillis(10)).cleanupInterval(Duration.ofSeconds(1))
                .retention(JdbcTransport.MAX_RETENTION).connectTimeout(Duration.ofMillis(250));
    }
}
