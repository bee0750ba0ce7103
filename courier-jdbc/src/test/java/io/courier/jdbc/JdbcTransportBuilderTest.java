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
                .hasMessage("maxPayloadBytes must be >= 1, but was 0");
        assertThatThrownBy(() -> b.pollInterval(Duration.ZERO))
                .hasMessage("pollInterval must be > 0, but was PT0S");
        assertThatThrownBy(() -> b.retention(Duration.ofSeconds(-1)))
                .hasMessage("retention must be >= 0, but was PT-1S");
        assertThatThrownBy(() -> b.connectTimeout(Duration.ofMillis(10)))
                .hasMessage("connectTimeout must be >= 250ms, but was PT0.01S");
        assertThatThrownBy(() -> b.tablePrefix("Robert'); DROP TABLE students;--"))
                .hasMessageStartingWith("tablePrefix must match [a-z_][a-z0-9_]{0,39}")
                .hasMessageEndingWith("but was 'Robert'); DROP TABLE students;--'");
        assertThatThrownBy(() -> b.maxPoolSize(1))
                .hasMessage("maxPoolSize must be between 2 and 1000, but was 1");
    }
}
