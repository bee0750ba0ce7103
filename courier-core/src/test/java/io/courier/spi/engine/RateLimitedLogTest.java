package io.courier.spi.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class RateLimitedLogTest {

    @Test
    void warnsOncePerIntervalAndReportsHowLongTheProblemLasted() {
        MutableClock clock = new MutableClock(0);
        RateLimitedLog log = new RateLimitedLog(LoggerFactory.getLogger(RateLimitedLogTest.class), clock, Duration.ofSeconds(30));

        assertThat(log.warn("down")).isTrue();
        clock.advance(Duration.ofSeconds(10));
        assertThat(log.warn("down")).isFalse();
        clock.advance(Duration.ofSeconds(20));
        assertThat(log.warn("down")).isTrue();
        clock.advance(Duration.ofSeconds(5));
        assertThat(log.recovered("up")).isEqualTo(Duration.ofSeconds(35));
        assertThat(log.recovered("up")).isEqualTo(Duration.ZERO);
        assertThat(log.warn("down again")).isTrue();
    }

    @Test
    void backoffDoublesToItsCeilingAndResets() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(500));
        assertThat(b.failing()).isFalse();
        assertThat(b.next()).isEqualTo(100);
        assertThat(b.next()).isEqualTo(200);
        assertThat(b.next()).isEqualTo(400);
        assertThat(b.next()).isEqualTo(500);
        assertThat(b.failing()).isTrue();
        b.reset();
        assertThat(b.next()).isEqualTo(100);
    }
}
