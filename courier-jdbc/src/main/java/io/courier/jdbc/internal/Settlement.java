package io.courier.jdbc.internal;

/**
 * What to write for one claimed delivery once its handler is done (or never started).
 *
 * @param row         the claimed delivery
 * @param kind        what to do
 * @param visibleAt   for {@link Kind#RESCHEDULE} and {@link Kind#RELEASE}: when it becomes visible again
 * @param headersJson for {@link Kind#RESCHEDULE}: the headers to redeliver with, or null to keep them
 */
public record Settlement(ClaimedRow row, Kind kind, long visibleAt, String headersJson) {

    /** The three ways a delivery is settled. */
    public enum Kind {
        /** Done: delete the delivery row. */
        ACK,
        /** Handled but not done (retry or failure): visible again later, the attempt counted. */
        RESCHEDULE,
        /** Never handled (prefetched, then the subscription closed): visible now, the attempt not counted. */
        RELEASE
    }

    /** An acknowledgement. */
    public static Settlement ack(ClaimedRow row) {
        return new Settlement(row, Kind.ACK, 0, null);
    }

    /** A redelivery at {@code visibleAt} with {@code headersJson} (null: unchanged). */
    public static Settlement reschedule(ClaimedRow row, long visibleAt, String headersJson) {
        return new Settlement(row, Kind.RESCHEDULE, visibleAt, headersJson);
    }

    /** A release of an unstarted delivery. */
    public static Settlement release(ClaimedRow row, long now) {
        return new Settlement(row, Kind.RELEASE, now, null);
    }
}
