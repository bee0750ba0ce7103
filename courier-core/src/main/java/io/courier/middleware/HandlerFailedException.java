package io.courier.middleware;

import io.courier.CourierException;
import java.util.Objects;

/**
 * A handler failed with an {@link Error} (or another throwable that is not an {@link Exception}),
 * converted by the {@link RecoveryMiddleware} so it travels the ordinary failure path. The original
 * is the {@linkplain #getCause() cause}.
 */
public class HandlerFailedException extends CourierException {

    private final String messageId;

    /** The failure of the handler of message {@code messageId}, caused by {@code cause}. */
    public HandlerFailedException(String messageId, String message, Throwable cause) {
        super(message, Objects.requireNonNull(cause, "cause"));
        this.messageId = Objects.requireNonNull(messageId, "messageId");
    }

    /** The id of the message whose handler failed. */
    public String messageId() {
        return messageId;
    }
}
