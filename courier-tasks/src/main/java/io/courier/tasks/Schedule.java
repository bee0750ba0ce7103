package io.courier.tasks;

import com.cronutils.model.CronType;
import io.courier.tasks.internal.CronSchedule;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Objects;
import java.util.Optional;

/**
 * When a periodic task runs: a cron expression in a time zone, or a fixed interval.
 *
 * <p>Tick times must be the same in every process, so that several {@link TaskScheduler}s agree on
 * them and the store can accept each tick once: cron ticks are, and interval ticks are aligned to
 * the epoch ({@code every(Duration.ofMinutes(5))} ticks at :00, :05, :10 ... UTC), not to the time a
 * scheduler started. Custom implementations must keep that property.
 */
@FunctionalInterface
public interface Schedule {

    /** The first tick strictly after {@code time}; empty when there is none (a cron that never fires again). */
    Optional<Instant> nextAfter(Instant time);

    /** A standard 5-field Unix cron expression ({@code minute hour day-of-month month day-of-week}) in UTC. */
    static Schedule cron(String expression) {
        return cron(expression, ZoneId.of("UTC"));
    }

    /**
     * A standard 5-field Unix cron expression evaluated in {@code zone} (so {@code 0 9 * * *} fires
     * at 09:00 local time across daylight-saving changes), parsed by cron-utils.
     *
     * @throws IllegalArgumentException if the expression is not valid
     */
    static Schedule cron(String expression, ZoneId zone) {
        return new CronSchedule(expression, zone, CronType.UNIX);
    }

    /**
     * A 6-field cron expression with seconds first, Spring style
     * ({@code second minute hour day-of-month month day-of-week}), in {@code zone}.
     *
     * @throws IllegalArgumentException if the expression is not valid
     */
    static Schedule cronWithSeconds(String expression, ZoneId zone) {
        return new CronSchedule(expression, zone, CronType.SPRING);
    }

    /**
     * Every {@code interval}, at multiples of it since the epoch.
     *
     * @throws IllegalArgumentException if the interval is shorter than one millisecond
     */
    static Schedule every(Duration interval) {
        Objects.requireNonNull(interval, "interval");
        long millis = interval.toMillis();
        if (millis < 1) {
            throw new IllegalArgumentException("interval must be >= 1 ms, but was " + interval);
        }
        return new Schedule() {
            @Override
            public Optional<Instant> nextAfter(Instant time) {
                long t = time.toEpochMilli();
                return Optional.of(Instant.ofEpochMilli(Math.floorDiv(t, millis) * millis + millis));
            }

            @Override
            public String toString() {
                return "every " + interval;
            }
        };
    }
}
