package io.courier.tasks.spi;

import java.time.Instant;
import java.util.Collection;
import java.util.Optional;

/**
 * Capability of task stores that announce new work, so that an idle {@link io.courier.tasks.TaskServer}
 * starts a task within milliseconds of its enqueue instead of at its next poll. The server checks for
 * it with {@code instanceof}; a store without it is polled every {@code pollInterval}.
 *
 * <p><b>What is announced.</b> To every subscriber of the queue, in this process and in others that
 * share the store (same database and table prefix, same Redis key prefix):
 * <ul>
 *   <li>{@link ArrivalListener#ready ready(queue, n)} when {@code n} tasks became PENDING: enqueued,
 *       forwarded because they came due ({@link TaskStore#forwardDue}), returned at shutdown
 *       ({@link TaskStore#requeue}), or run by the inspector ({@link TaskStore#runTask},
 *       {@link TaskStore#runAllArchived});</li>
 *   <li>{@link ArrivalListener#scheduled scheduled(queue, dueAt)} when a task was enqueued SCHEDULED.</li>
 * </ul>
 * Retries are not announced: the server that records a retry knows its due time itself.
 *
 * <p><b>Best effort.</b> An announcement is sent only once the change is committed (a subscriber
 * that claims at once finds the task), but it may be lost (a broken connection; then the store calls
 * {@link ArrivalListener#missed()} once it listens again), duplicated or merged with others.
 * Subscribers must keep polling, less often, as a fallback; and a subscriber that claims after an
 * announcement may find that another server took the task first.
 *
 * <p>Thread-safe.
 */
public interface TaskArrivals extends TaskStore {

    /**
     * Starts calling {@code listener} with the announcements for {@code queues}. The listener is
     * called from a thread of the store (often a network I/O thread), so it must return quickly and
     * not call the store; a listener that throws is logged and keeps its subscription. The first call
     * may open a connection that stays open until the store is closed (a PostgreSQL connection that
     * {@code LISTEN}s, a Redis pub/sub connection).
     *
     * @return the subscription; closing it stops the calls
     * @throws io.courier.tasks.TaskStoreException if the store cannot start listening
     */
    Subscription subscribeArrivals(Collection<String> queues, ArrivalListener listener);

    /**
     * When the earliest SCHEDULED or RETRY task of {@code queues} is due, whether or not that time has
     * passed; empty when there is none. One cheap indexed read: a server asks after each pass of
     * {@link TaskStore#forwardDue} and sleeps until then, so a task scheduled before the server
     * started starts on time, and one whose announcement was lost is known from the next pass on.
     *
     * @throws io.courier.tasks.TaskStoreException if the store fails
     */
    Optional<Instant> nextDueAt(Collection<String> queues);

    /** A subscription to announcements; {@link #close()} is idempotent and never throws. */
    interface Subscription extends AutoCloseable {
        /** Stops the calls to the listener (one in progress may still finish). */
        @Override
        void close();
    }
}
