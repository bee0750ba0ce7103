package io.courier.tasks;

import io.courier.CourierException;

/**
 * Thrown by {@link TaskClient#enqueue} when the caller-chosen {@link TaskOptions#taskId() task id}
 * already exists in the store (in any state, including completed tasks still retained). Nothing was
 * stored.
 */
public class TaskIdConflictException extends CourierException {

    private final String taskId;

    /** A conflict on {@code taskId}. */
    public TaskIdConflictException(String taskId) {
        super("a task with id '" + taskId + "' already exists");
        this.taskId = taskId;
    }

    /** The id that exists already. */
    public String taskId() {
        return taskId;
    }
}
