package io.courier.jdbc.internal;

import io.courier.Message;
import java.time.Instant;

/**
 * A message on its way into the messages table, with everything converted to columns.
 *
 * @param message     the message
 * @param headersJson its headers as JSON, or null when it has none
 * @param timestampNs its timestamp in nanoseconds since the epoch
 * @param deliverAt   when it becomes visible, epoch milliseconds
 */
public record OutgoingMessage(Message message, String headersJson, long timestampNs, long deliverAt) {

    /** Converts {@code message}; {@code deliverAt} is epoch milliseconds. */
    public static OutgoingMessage of(Message message, long deliverAt) {
        return new OutgoingMessage(message, HeadersJson.write(message.headers()), toNanos(message.timestamp()), deliverAt);
    }

    /** Nanoseconds since the epoch; throws {@link IllegalArgumentException} outside 1677..2262. */
    static long toNanos(Instant t) {
        try {
            return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("message timestamp must be between 1677 and 2262, but was " + t);
        }
    }

    /** The inverse of {@link #toNanos}. */
    static Instant fromNanos(long nanos) {
        return Instant.ofEpochSecond(Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
    }
}
