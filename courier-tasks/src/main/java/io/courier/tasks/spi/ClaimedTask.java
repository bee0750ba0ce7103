package io.courier.tasks.spi;

import io.courier.tasks.TaskInfo;
import java.util.Objects;

/**
 * A task a worker claimed: its stored snapshot (state ACTIVE) and the lease token that every later
 * call about this attempt must present. A call with a stale token (the lease expired and the task
 * was recovered or claimed again) changes nothing.
 *
 * @param info       the task, ACTIVE
 * @param leaseToken the token of this claim
 */
public record ClaimedTask(TaskInfo info, String leaseToken) {

    /** Checks for nulls. */
    public ClaimedTask {
        Objects.requireNonNull(info, "info");
        Objects.requireNonNull(leaseToken, "leaseToken");
    }
}
