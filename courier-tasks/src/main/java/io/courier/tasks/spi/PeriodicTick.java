package io.courier.tasks.spi;

import java.time.Instant;
import java.util.Objects;

/**
 * Marks a task as the run of one schedule at one tick. A store accepts at most one task per
 * schedule and tick (and none for a tick at or before the last one accepted), atomically with
 * storing the task: that is what makes several schedulers enqueue each tick exactly once.
 *
 * @param scheduleId the schedule's id
 * @param tick       the tick time
 */
public record PeriodicTick(String scheduleId, Instant tick) {

    /** Checks for nulls. */
    public PeriodicTick {
        Objects.requireNonNull(scheduleId, "scheduleId");
        Objects.requireNonNull(tick, "tick");
    }
}
