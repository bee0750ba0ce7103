package io.courier.tasks;

import io.courier.CourierException;

/**
 * An inspector operation does not apply to the task's current state, e.g. deleting an ACTIVE task
 * or running a COMPLETED one. Nothing was changed.
 */
public class TaskStateException extends CourierException {

    private final String taskId;
    private final TaskState state;

    /** {@code operation} is not allowed for task {@code taskId} in {@code state}. */
    public TaskStateException(String taskId, TaskState state, String operation, String allowed) {
        super("cannot " + operation + " task '" + taskId + "': it is " + state + "; only " + allowed + " tasks can be");
        this.taskId = taskId;
        this.state = state;
    }

    /** The task. */
    public String taskId() {
        return taskId;
    }

    /** The state that did not allow the operation. */
    public TaskState state() {
        return state;
    }
}
