package io.courier.redis.internal;

/**
 * A stream entry fetched for this consumer: the handle a Redis source gives the consumer engine.
 * Immutable, except for the attempt of a keyed entry that is delivered again in place.
 */
final class RedisEntry {

    private final boolean retry;
    private final String entryId;
    private final String tag;
    private final EntryCodec.Decoded decoded;
    private final byte[] keyList;
    private final String laneKey;
    private volatile int attempt;
    /** Key ordering: when the in-place redelivery after a failure is due (epoch ms); 0 when none waits. */
    private volatile long redeliveryDueAt;
    /** When the lease the engine knows of ends (epoch ms): set when fetched and when extended. */
    private volatile long leaseUntil;

    private RedisEntry(boolean retry, String entryId, EntryCodec.Decoded decoded, int attempt, byte[] keyList,
                       String laneKey) {
        this.retry = retry;
        this.entryId = entryId;
        this.tag = tag(retry, entryId);
        this.decoded = decoded;
        this.attempt = attempt;
        this.keyList = keyList;
        this.laneKey = laneKey;
    }

    /**
     * An entry of the retry stream ({@code retry}) or the topic stream, delivered {@code deliveries}
     * times to the group; with key ordering, in key list {@code keyList} of message key {@code laneKey}
     * (both null otherwise).
     */
    static RedisEntry of(boolean retry, String entryId, EntryCodec.Decoded decoded, long deliveries, byte[] keyList,
                         String laneKey) {
        long attempt = decoded.firstAttempt() + deliveries - 1;
        return new RedisEntry(retry, entryId, decoded, (int) Math.max(1, Math.min(Integer.MAX_VALUE, attempt)), keyList,
                laneKey);
    }

    /** The tag of entry {@code entryId} of the retry stream ({@code retry}) or the topic stream. */
    static String tag(boolean retry, String entryId) {
        return (retry ? "r:" : "m:") + entryId;
    }

    /** True for an entry of the group's retry stream, false for one of the topic stream. */
    boolean retry() {
        return retry;
    }

    /** The stream entry id. */
    String entryId() {
        return entryId;
    }

    /** {@code m:<id>} or {@code r:<id>}: unique over both streams of the group. */
    String tag() {
        return tag;
    }

    /** The decoded message with its first attempt and first failure. */
    EntryCodec.Decoded decoded() {
        return decoded;
    }

    /** Key ordering: the Redis list of the entry's message key; null otherwise. */
    byte[] keyList() {
        return keyList;
    }

    /** Key ordering: the message key as the engine's ordering lane; null otherwise. */
    String laneKey() {
        return laneKey;
    }

    /** The 1-based attempt of the entry's next (or current) handling. */
    int attempt() {
        return attempt;
    }

    /**
     * The delivery count to give the entry when it is handed back to the group unhandled, so that the
     * next consumer's claim (which counts one more) delivers it as attempt {@link #attempt()}.
     */
    long deliveriesBeforeThisAttempt() {
        return Math.max(0, attempt - (long) decoded.firstAttempt());
    }

    /** Key ordering: a failed handling is to run again in place at {@code dueAt} (epoch ms), as the next attempt. */
    void redeliverInPlace(long dueAt) {
        attempt++;
        redeliveryDueAt = dueAt;
    }

    /** When the lease the engine knows of ends (epoch ms); 0 before the entry went to the engine. */
    long leaseUntil() {
        return leaseUntil;
    }

    /** The engine holds the entry leased until {@code epochMillis}. */
    void leasedUntil(long epochMillis) {
        leaseUntil = epochMillis;
    }

    /** Key ordering: when the in-place redelivery is due (epoch ms), or 0 when none waits. */
    long redeliveryDueAt() {
        return redeliveryDueAt;
    }
}
