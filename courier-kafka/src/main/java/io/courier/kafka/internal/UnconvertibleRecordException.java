package io.courier.kafka.internal;

/** A Kafka record that cannot be turned into a Courier message; its message says why. */
public final class UnconvertibleRecordException extends Exception {

    /** A record refused for {@code reason}. */
    public UnconvertibleRecordException(String reason) {
        super(reason);
    }

    /** A record refused for {@code reason}, with the parse error. */
    public UnconvertibleRecordException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
