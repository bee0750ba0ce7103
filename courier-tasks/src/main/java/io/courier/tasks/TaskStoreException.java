package io.courier.tasks;

import io.courier.CourierException;

/**
 * A task store could not do what was asked: the database or Redis failed, or the stored schema is
 * not one this library understands. The message names the operation; the cause is the driver's
 * exception.
 */
public class TaskStoreException extends CourierException {

    /** A store failure with a message. */
    public TaskStoreException(String message) {
        super(message);
    }

    /** A store failure with a message and the driver's exception. */
    public TaskStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
