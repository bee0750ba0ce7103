package io.courier;

/**
 * A payload could not be decoded into the requested type: malformed JSON, a missing required
 * field, an unknown type. Retrying cannot fix it, so it is a {@link NonRetryableException} and the
 * message goes straight to the dead-letter topic with this exception's message as the reason.
 */
public class DecodingException extends NonRetryableException {

    /** A decoding failure with a message and its cause. */
    public DecodingException(String message, Throwable cause) {
        super(message, cause);
    }
}
