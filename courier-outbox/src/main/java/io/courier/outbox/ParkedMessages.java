package io.courier.outbox;

import io.courier.outbox.internal.ParkingTable;
import java.util.List;
import java.util.Optional;

/**
 * The messages that destinations refused for good, parked by the relay until an operator acts:
 * look at them, send them again (after fixing the destination: binding a queue, raising a size
 * limit, creating a topic) or discard them. Parked messages are kept until then; no retention
 * removes them.
 *
 * <p>{@link #retry} moves a message back into the outbox in one transaction (it is never both parked
 * and unsent, nor neither), with its id, key, headers and payload; the relay then sends it after
 * the unsent messages of its key. Thread-safe.
 */
public final class ParkedMessages {

    /** The most rows one call returns or changes. */
    public static final int MAX_PAGE = 10_000;

    private final Outbox outbox;
    private final ParkingTable table;

    ParkedMessages(Outbox outbox, ParkingTable table) {
        this.outbox = outbox;
        this.table = table;
    }

    /** Up to {@code limit} parked messages of every destination, oldest first. */
    public List<ParkedMessage> list(int limit) {
        return table.list(null, 0, checkLimit(limit));
    }

    /**
     * Up to {@code limit} parked messages of {@code destination} with ids above {@code afterId}
     * (0 for the first page), oldest first: page through with the last id of the previous page.
     */
    public List<ParkedMessage> list(String destination, long afterId, int limit) {
        Outbox.checkDestination(destination);
        return table.list(destination, afterId, checkLimit(limit));
    }

    /** The parked message with id {@code id}. */
    public Optional<ParkedMessage> find(long id) {
        return table.find(id);
    }

    /** How many messages are parked, over all destinations. */
    public long count() {
        return table.count(null);
    }

    /** How many messages of {@code destination} are parked. */
    public long count(String destination) {
        Outbox.checkDestination(destination);
        return table.count(destination);
    }

    /**
     * Puts parked message {@code id} back into the outbox for its destination and topic, in one
     * transaction.
     *
     * @return false when no message with that id is parked (already retried or discarded)
     */
    public boolean retry(long id) {
        return table.inTransaction("retrying parked message " + id, c -> {
            Optional<ParkedMessage> taken = table.take(c, id);
            if (taken.isEmpty()) {
                return false;
            }
            ParkedMessage p = taken.get();
            outbox.to(p.destination()).publish(c, p.topic(), p.message());
            return true;
        });
    }

    /**
     * Retries up to {@code limit} parked messages of {@code destination}, oldest first, each in a
     * transaction of its own.
     *
     * @return how many were put back
     */
    public int retryAll(String destination, int limit) {
        int n = 0;
        for (ParkedMessage p : list(destination, 0, limit)) {
            if (retry(p.id())) {
                n++;
            }
        }
        return n;
    }

    /**
     * Deletes parked message {@code id} for good.
     *
     * @return false when no message with that id is parked
     */
    public boolean discard(long id) {
        return table.inTransaction("discarding parked message " + id, c -> table.take(c, id).isPresent());
    }

    private static int checkLimit(int limit) {
        if (limit < 1 || limit > MAX_PAGE) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_PAGE + ", but was " + limit);
        }
        return limit;
    }

    @Override
    public String toString() {
        return "ParkedMessages[" + outbox + "]";
    }
}
