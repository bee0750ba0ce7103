package io.courier.middleware;

import io.courier.CourierException;
import java.time.Duration;
import java.util.Objects;

/**
 * A handler did not finish within the {@link TimeoutMiddleware}'s time limit. The handler's thread
 * was interrupted and the attempt counts as failed (it is retryable: a later attempt may be faster).
 */
public class HandlerTimeoutException extends CourierException {

    private final String messageId;
    private final Duration timeout;

    /**
     * A timeout of the handler of message {@code messageId} after {@code timeout}; {@code detail}
     * becomes the exception message.
     */
    public HandlerTimeoutException(String messageId, Duration timeout, String detail) {
        super(detail);
        this.messageId = Objects.requireNonNull(messageId, "messageId");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    /** The id of the message whose handler timed out. */
    public String messageId() {
        return messageId;
    }

    /** The time limit that was exceeded. */
    public Duration timeout() {
        return timeout;
    }
}
