package io.courier.tasks;

import io.courier.NonRetryableException;

/**
 * Thrown by a handler to say "do not retry": the task is archived at once with this exception's
 * message as its last error, whatever retries it had left. Any other
 * {@link NonRetryableException} (such as a {@link io.courier.DecodingException} from a malformed
 * payload) has the same effect.
 */
public class SkipRetryException extends NonRetryableException {

    /** Skip retries, with a reason. */
    public SkipRetryException(String message) {
        super(message);
    }

    /** Skip retries, with a reason and its cause. */
    public SkipRetryException(String message, Throwable cause) {
        super(message, cause);
    }
}
