package io.courier.tasks;

import java.time.LocalDate;
import java.util.Objects;

/**
 * One queue's counters for one UTC day, from {@link TaskInspector#history}.
 *
 * @param queue     the queue
 * @param day       the UTC day
 * @param processed attempts finished that day, successful or not (as in Asynq)
 * @param failed    attempts that failed that day (including timeouts and lease expiries)
 */
public record DailyStats(String queue, LocalDate day, long processed, long failed) {

    /** Checks for nulls. */
    public DailyStats {
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(day, "day");
    }
}
