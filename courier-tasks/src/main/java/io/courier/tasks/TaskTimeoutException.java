package io.courier.tasks;

import io.courier.CourierException;

/**
 * The failure recorded when an attempt runs past its timeout or deadline. It is not thrown into
 * handler code (the handler thread is interrupted instead); it is what middleware and listeners see
 * as the cause, and its message becomes the task's last error.
 */
public class TaskTimeoutException extends CourierException {

    private final boolean deadlineExceeded;

    /** A timeout; {@code deadlineExceeded} tells the absolute deadline apart from the per-attempt timeout. */
    public TaskTimeoutException(String message, boolean deadlineExceeded) {
        super(message);
        this.deadlineExceeded = deadlineExceeded;
    }

    /** True when the task's absolute deadline passed (the task is archived), false for a per-attempt timeout. */
    public boolean deadlineExceeded() {
        return deadlineExceeded;
    }
}
