package io.courier.tasks.spi;

import java.time.Instant;

/**
 * Receives a {@link TaskArrivals} store's announcements. Called from a thread of the store: every
 * method must return quickly, must not block on the store, and should not throw.
 */
public interface ArrivalListener {

    /** {@code count} (>= 1) tasks of {@code queue} became PENDING and can be claimed now. */
    void ready(String queue, int count);

    /** A task of {@code queue} was enqueued SCHEDULED; it becomes due at {@code dueAt}. */
    void scheduled(String queue, Instant dueAt);

    /**
     * Announcements may have been lost (the store's listening connection broke and is back): look
     * for ready and due tasks once, as if polled.
     */
    void missed();
}
