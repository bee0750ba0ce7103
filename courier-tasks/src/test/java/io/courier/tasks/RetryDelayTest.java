package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class RetryDelayTest {

    @RepeatedTest(20)
    void exponentialDelayDoublesWithEqualJitterAndStopsAtTheCap() {
        RetryDelay d = RetryDelay.exponential(Duration.ofSeconds(10), 2.0, Duration.ofMinutes(1), true);
        assertThat(d.delay(1, null, null)).isBetween(Duration.ofSeconds(5), Duration.ofSeconds(10));
        assertThat(d.delay(2, null, null)).isBetween(Duration.ofSeconds(10), Duration.ofSeconds(20));
        assertThat(d.delay(3, null, null)).isBetween(Duration.ofSeconds(20), Duration.ofSeconds(40));
        assertThat(d.delay(10, null, null)).isBetween(Duration.ofSeconds(30), Duration.ofMinutes(1));
        assertThat(d.delay(10_000, null, null)).isBetween(Duration.ofSeconds(30), Duration.ofMinutes(1));
    }

    @Test
    void withoutJitterTheDelayIsExact() {
        RetryDelay d = RetryDelay.exponential(Duration.ofSeconds(1), 3.0, Duration.ofHours(1), false);
        assertThat(d.delay(1, null, null)).isEqualTo(Duration.ofSeconds(1));
        assertThat(d.delay(3, null, null)).isEqualTo(Duration.ofSeconds(9));
        assertThat(RetryDelay.exponential().delay(1, null, null)).isBetween(Duration.ofSeconds(5), Duration.ofSeconds(10));
    }

    @Test
    void invalidParametersAreRejected() {
        assertThatThrownBy(() -> RetryDelay.exponential(Duration.ZERO, 2, Duration.ofSeconds(1), true))
                .hasMessage("initial must be > 0, but was PT0S");
        assertThatThrownBy(() -> RetryDelay.exponential(Duration.ofSeconds(1), 0.5, Duration.ofSeconds(1), true))
                .hasMessage("multiplier must be >= 1, but was 0.5");
        assertThatThrownBy(() -> RetryDelay.exponential(Duration.ofSeconds(2), 2, Duration.ofSeconds(1), true))
                .hasMessage("max must be >= initial (PT2S), but was PT1S");
    }
}
