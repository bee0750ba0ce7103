package io.courier.tasks;

import java.time.Instant;
import java.util.Objects;

/**
 * A task a server is running, as reported in its heartbeat ({@link ServerInfo#workers()}).
 *
 * @param taskId    the task id
 * @param type      the task type
 * @param queue     its queue
 * @param startedAt when the attempt started
 * @param deadline  when the attempt is cut off
 */
public record WorkerInfo(String taskId, String type, String queue, Instant startedAt, Instant deadline) {

    /** Checks for nulls. */
    public WorkerInfo {
        Objects.requireNonNull(taskId, "taskId");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(deadline, "deadline");
    }
}
