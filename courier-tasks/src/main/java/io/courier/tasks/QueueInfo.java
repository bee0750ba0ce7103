package io.courier.tasks;

import java.time.LocalDate;
import java.util.Objects;

/**
 * A queue's size per state and today's counters, from {@link TaskInspector#queues()}.
 *
 * @param name           the queue name
 * @param paused         true while the queue is paused (no task is claimed from it)
 * @param pending        tasks ready to run
 * @param active         tasks running now
 * @param scheduled      tasks waiting for their process-at time
 * @param retry          failed tasks waiting for their next attempt
 * @param archived       tasks given up on
 * @param completed      completed tasks still retained
 * @param day            the (UTC) day the counters below belong to
 * @param processed      attempts finished today, successful or not
 * @param failed         attempts failed today
 */
public record QueueInfo(
        String name,
        boolean paused,
        long pending,
        long active,
        long scheduled,
        long retry,
        long archived,
        long completed,
        LocalDate day,
        long processed,
        long failed) {

    /** Checks the name and day. */
    public QueueInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(day, "day");
    }

    /**
     * The queue's size as Asynq counts it: the tasks that are still work or were given up on, that is
     * {@code pending + active + scheduled + retry + archived}. Completed tasks (kept only for their
     * retention, for inspection) are not counted; add {@link #completed()} for every stored task.
     * Zero means the queue has nothing left to run and nothing archived.
     */
    public long size() {
        return pending + active + scheduled + retry + archived;
    }

    /** The count for one state. */
    public long count(TaskState state) {
        return switch (state) {
            case PENDING -> pending;
            case ACTIVE -> active;
            case SCHEDULED -> scheduled;
            case RETRY -> retry;
            case ARCHIVED -> archived;
            case COMPLETED -> completed;
        };
    }
}
