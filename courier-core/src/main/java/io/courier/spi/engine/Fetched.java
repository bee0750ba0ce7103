package io.courier.spi.engine;

import io.courier.Message;
import java.util.Objects;

/**
 * One record a {@link DeliverySource} fetched, decoded and ready for a handler.
 *
 * @param record      the source's own handle for settling it (a row id, a delivery tag, an offset)
 * @param message     the decoded message
 * @param attempt     the 1-based delivery attempt
 * @param lane        the ordering lane: records of one lane are handled one at a time in fetch order
 *                    (a key, a partition); {@code null} for none
 * @param notBefore   epoch milliseconds before which the handler must not start (a delayed message that
 *                    arrived early); 0 for at once. The record's lane waits with it
 * @param leaseUntil  epoch milliseconds when the source's lease on the record ends; 0 when the
 *                    source has no leases. The engine extends leases (see {@link DeliverySource#extendLeases})
 * @param <R>         the source's record type
 */
public record Fetched<R>(R record, Message message, int attempt, Object lane, long notBefore, long leaseUntil) {

    /** Validates. */
    public Fetched {
        Objects.requireNonNull(message, "message");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be >= 1, but was " + attempt);
        }
    }

    /** A record without ordering lane, delay or lease. */
    public static <R> Fetched<R> of(R record, Message message, int attempt) {
        return new Fetched<>(record, message, attempt, null, 0, 0);
    }

    /** This record in ordering lane {@code lane} ({@code null}: none). */
    public Fetched<R> inLane(Object lane) {
        return new Fetched<>(record, message, attempt, lane, notBefore, leaseUntil);
    }

    /** This record, not to be started before {@code epochMillis} (0: at once). */
    public Fetched<R> notBefore(long epochMillis) {
        return new Fetched<>(record, message, attempt, lane, epochMillis, leaseUntil);
    }

    /** This record, leased until {@code epochMillis} (0: no lease). */
    public Fetched<R> leasedUntil(long epochMillis) {
        return new Fetched<>(record, message, attempt, lane, notBefore, epochMillis);
    }
}
