package io.courier;

/**
 * Base of every exception Courier throws on its own account. Unchecked; each subclass names one
 * failure precisely, and its message says what was expected and what happened.
 */
public class CourierException extends RuntimeException {

    /** An exception with a message. */
    public CourierException(String message) {
        super(message);
    }

    /** An exception with a message and its cause. */
    public CourierException(String message, Throwable cause) {
        super(message, cause);
    }
}
