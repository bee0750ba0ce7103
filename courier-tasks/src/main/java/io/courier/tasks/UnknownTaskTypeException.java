package io.courier.tasks;

import io.courier.NonRetryableException;

/**
 * Thrown by a {@link TaskMux} for a task type with no handler. Non-retryable: the task is archived
 * at once with this message as the reason, and the worker goes on with the next task.
 */
public class UnknownTaskTypeException extends NonRetryableException {

    private final String type;

    /** No handler for {@code type}. */
    public UnknownTaskTypeException(String type) {
        super("no handler registered for task type '" + type + "'");
        this.type = type;
    }

    /** The task type nobody handles. */
    public String type() {
        return type;
    }
}
