package io.courier.tasks;

import io.courier.CourierException;

/**
 * The failure recorded as the last error of a task whose worker stopped renewing its lease (it
 * crashed, was killed, was cut off from the store, or could not write the task's outcome): the
 * recovery pass of any server moves such a task to RETRY (or ARCHIVED when no retry is left) with
 * this exception's {@code toString()} as {@link TaskInfo#lastError()}. It is not thrown into
 * handler code.
 */
public class LeaseExpiredException extends CourierException {

    /** A lease expiry with its description. */
    public LeaseExpiredException(String message) {
        super(message);
    }
}
