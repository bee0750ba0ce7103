package io.courier.eventbus;

import io.courier.NonRetryableException;
import java.util.Optional;

/**
 * A {@link TransportEventBus} received a message whose {@link io.courier.Headers#EVENT_TYPE} header
 * is missing or names no type the bus knows. Retrying cannot help, so this is a
 * {@link NonRetryableException}: a {@link io.courier.middleware.DeadLetterMiddleware} in the
 * router stores the message in the dead-letter topic at once.
 *
 * @see UnknownEventTypePolicy
 */
public class UnknownEventTypeException extends NonRetryableException {

    private static final long serialVersionUID = 1L;

    private final String typeName;

    /** An exception for {@code typeName} (null when the header was missing), with a message. */
    public UnknownEventTypeException(String typeName, String message) {
        super(message);
        this.typeName = typeName;
    }

    /** The type name the message carried; empty when it had no type header. */
    public Optional<String> typeName() {
        return Optional.ofNullable(typeName);
    }
}
