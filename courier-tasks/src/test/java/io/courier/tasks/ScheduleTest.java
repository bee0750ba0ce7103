package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

class ScheduleTest {

    @Test
    void cronIsEvaluatedInItsTimeZoneAcrossDaylightSavingChanges() {
        Schedule nineInBerlin = Schedule.cron("0 9 * * *", ZoneId.of("Europe/Berlin"));
        // Winter: UTC+1, summer: UTC+2.
        assertThat(nineInBerlin.nextAfter(Instant.parse("2024-01-15T12:00:00Z"))).contains(Instant.parse("2024-01-16T08:00:00Z"));
        assertThat(nineInBerlin.nextAfter(Instant.parse("2024-07-15T12:00:00Z"))).contains(Instant.parse("2024-07-16T07:00:00Z"));
        // The night the clocks go forward (31 March 2024) does not skip the 09:00 run.
        assertThat(nineInBerlin.nextAfter(Instant.parse("2024-03-30T12:00:00Z"))).contains(Instant.parse("2024-03-31T07:00:00Z"));
    }

    @Test
    void cronNextTickIsStrictlyAfterTheGivenTime() {
        Schedule everyFiveMinutes = Schedule.cron("*/5 * * * *");
        assertThat(everyFiveMinutes.nextAfter(Instant.parse("2024-05-01T10:00:00Z"))).contains(Instant.parse("2024-05-01T10:05:00Z"));
        assertThat(everyFiveMinutes.nextAfter(Instant.parse("2024-05-01T10:04:59Z"))).contains(Instant.parse("2024-05-01T10:05:00Z"));
        Schedule everySecond = Schedule.cronWithSeconds("* * * * * *", ZoneId.of("UTC"));
        assertThat(everySecond.nextAfter(Instant.parse("2024-05-01T10:00:00.500Z"))).contains(Instant.parse("2024-05-01T10:00:01Z"));
    }

    @Test
    void intervalTicksAreAlignedToTheEpochSoEveryProcessAgrees() {
        Schedule every5m = Schedule.every(Duration.ofMinutes(5));
        assertThat(every5m.nextAfter(Instant.parse("2024-05-01T10:02:31Z"))).contains(Instant.parse("2024-05-01T10:05:00Z"));
        assertThat(every5m.nextAfter(Instant.parse("2024-05-01T10:05:00Z"))).contains(Instant.parse("2024-05-01T10:10:00Z"));
    }

    @Test
    void invalidInputIsRejectedWithTheReason() {
        assertThatThrownBy(() -> Schedule.cron("61 * * * *"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("invalid cron expression '61 * * * *'");
        assertThatThrownBy(() -> Schedule.every(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("interval must be >= 1 ms, but was PT0S");
    }
}
