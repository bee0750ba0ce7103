package io.courier.tasks.spi;

import java.util.Objects;

/**
 * A worker's hold on an active task: the task id and the token of the claim.
 *
 * @param taskId the task
 * @param token  the claim's token
 */
public record Lease(String taskId, String token) {

    /** Checks for nulls. */
    public Lease {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(token, "token");
    }
}
