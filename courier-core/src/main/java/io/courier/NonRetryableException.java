package io.courier;

/**
 * Thrown by a handler (or wrapping its cause) to say that handling this message can never succeed,
 * so retrying it is pointless: the {@link io.courier.middleware.RetryMiddleware} gives up at once
 * and the dead-letter middleware stores the message with reason {@code non-retryable}.
 *
 * <p>Decoding failures ({@link DecodingException}) are non-retryable too.
 */
public class NonRetryableException extends CourierException {

    /** A non-retryable failure with a message. */
    public NonRetryableException(String message) {
        super(message);
    }

    /** A non-retryable failure wrapping its cause. */
    public NonRetryableException(String message, Throwable cause) {
        super(message, cause);
    }
}
