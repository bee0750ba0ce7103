package io.courier.tasks.spi;

import io.courier.tasks.DailyStats;
import io.courier.tasks.QueueInfo;
import io.courier.tasks.ServerInfo;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskState;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where tasks live. {@link io.courier.tasks.TaskClient}, {@link io.courier.tasks.TaskServer},
 * {@link io.courier.tasks.TaskScheduler} and {@link io.courier.tasks.TaskInspector} are written
 * against this interface only; implementations are
 * {@code SqlTaskStore} (SQLite, PostgreSQL; module {@code courier-tasks-jdbc}) and
 * {@code RedisTaskStore} (module {@code courier-tasks-redis}), all proven by one conformance suite
 * ({@code TaskStoreConformanceSuite} in {@code courier-testkit}).
 *
 * <p><b>Contract.</b> Every method is atomic: it happens entirely or not at all, and two processes
 * calling it at once never both succeed where only one may (two claims never return the same task;
 * two enqueues of one unique task never both store it). Times are passed in by the caller, so one
 * clock decides. Methods that act on an active task take its lease token and do nothing when the
 * token is stale. Implementations are thread-safe; failures of the underlying database are thrown
 * as {@link io.courier.tasks.TaskStoreException}.
 *
 * <p>{@link #close()} releases what the store created itself (pools, connections); a data source or
 * client passed in by the caller is left open.
 */
public interface TaskStore extends AutoCloseable {

    /** A short name for logs: {@code sqlite}, {@code postgresql}, {@code redis}. */
    String name();

    // ---- client

    /**
     * Stores a new task, PENDING or SCHEDULED (see {@link NewTask#initialState()}).
     *
     * @throws io.courier.tasks.DuplicateTaskException  if its unique lock is held or its periodic tick was taken
     * @throws io.courier.tasks.TaskIdConflictException if a task with its id exists
     */
    TaskInfo enqueue(NewTask task);

    // ---- server

    /**
     * Claims up to {@code max} PENDING tasks of {@code queue}, oldest first, making them ACTIVE with
     * a lease until {@code now + lease}. Returns nothing when the queue is paused or empty.
     */
    List<ClaimedTask> claim(String queue, int max, String workerId, Instant now, Duration lease);

    /**
     * Extends the given leases to {@code expiresAt}.
     *
     * @return the task ids whose lease was lost (token stale or task no longer active)
     */
    Set<String> renewLeases(Collection<Lease> leases, Instant expiresAt);

    /**
     * ACTIVE to COMPLETED (kept for the task's retention) or deleted when the retention is zero;
     * releases the task's unique lock.
     *
     * @return false if the lease was stale (nothing changed)
     */
    boolean complete(Lease lease, Instant now);

    /**
     * Completes several tasks at once, each as {@link #complete(Lease, Instant)} does; the server
     * calls this with the tasks that finished while its previous write was in flight, so that a busy
     * server writes one transaction (one script call) for many tasks instead of one each. Each task
     * is settled on its own lease: a stale lease leaves that task alone and the others are completed.
     *
     * <p>The default calls {@link #complete(Lease, Instant)} for each lease; stores override it to
     * write all of them in one round trip.
     *
     * @return the task ids whose lease was stale (nothing changed for them)
     */
    default Set<String> completeAll(Collection<Lease> leases, Instant now) {
        Set<String> lost = new java.util.HashSet<>();
        for (Lease lease : leases) {
            if (!complete(lease, now)) {
                lost.add(lease.taskId());
            }
        }
        return lost;
    }

    /**
     * ACTIVE to RETRY, due at {@code processAt}, recording {@code error}; increments the retry count
     * when {@code countRetry}.
     *
     * @return false if the lease was stale
     */
    boolean retry(Lease lease, Instant now, Instant processAt, String error, boolean countRetry);

    /**
     * ACTIVE to ARCHIVED, recording {@code error}.
     *
     * @return false if the lease was stale
     */
    boolean archive(Lease lease, Instant now, String error);

    /**
     * Stores a handler's result with an ACTIVE task, replacing any earlier result; the result stays
     * with the task through later state changes (retry, archive, completion with a retention) until
     * the task is deleted, and {@link #getTask} and {@link #listTasks} return it. The size limit is
     * the server's; the store takes what it is given.
     *
     * <p>The default throws {@link UnsupportedOperationException}: a store written before results
     * existed cannot keep them.
     *
     * @return false if the lease was stale (nothing changed)
     */
    default boolean writeResult(Lease lease, byte[] result) {
        throw new UnsupportedOperationException(name() + " task store does not store task results");
    }

    /**
     * ACTIVE back to PENDING with nothing counted (graceful shutdown).
     *
     * @return false if the lease was stale
     */
    boolean requeue(Lease lease);

    /** Moves SCHEDULED and RETRY tasks of {@code queues} that are due at {@code now} to PENDING; returns how many. */
    int forwardDue(Collection<String> queues, Instant now);

    /**
     * Recovers ACTIVE tasks of {@code queues} whose lease expired before {@code now} (their worker
     * died): each counts as a failed attempt with {@code error}, going to RETRY due at once, or to
     * ARCHIVED when it had no retries left. Returns how many.
     */
    int recoverExpiredLeases(Collection<String> queues, Instant now, String error);

    /** Deletes completed tasks whose retention ended before {@code now}; returns how many. */
    int deleteExpiredCompleted(Instant now);

    /** Adds to a queue's counters for a UTC day. */
    void recordStats(String queue, LocalDate day, long processed, long failed);

    /** Writes a server's heartbeat report, visible until {@code expiresAt}. */
    void heartbeatServer(ServerInfo info, Instant expiresAt);

    /** Removes a server's report. */
    void removeServer(String serverId);

    // ---- inspector

    /**
     * Every queue that has tasks, counters or a pause flag, sorted by name. Should not read every
     * task: a dashboard calls it on every page.
     */
    List<String> queueNames();

    /**
     * One queue's counts per state and counters for {@code day}. Exact (it sees every committed
     * change), and should take about the same time however many tasks the queue holds: stores keep
     * counts (Redis: list and set sizes; SQL: per-queue counters maintained in the same transaction
     * as every change) rather than counting tasks.
     */
    QueueInfo queueInfo(String queue, LocalDate day);

    /** A queue's counters for each day from {@code from} to {@code to} inclusive (zeros for empty days). */
    List<DailyStats> history(String queue, LocalDate from, LocalDate to);

    /** Pauses ({@code true}) or resumes a queue; claims return nothing while it is paused. */
    void setPaused(String queue, boolean paused);

    /**
     * Tasks of a queue in a state, oldest first (by next process time, or by completion for
     * completed), skipping {@code offset} ({@code >= 0}) and returning at most {@code limit}
     * ({@code >= 1}); empty past the end. The first pages should cost about the same however many
     * tasks the queue holds (an index in that order).
     */
    List<TaskInfo> listTasks(String queue, TaskState state, int offset, int limit);

    /** One task. */
    Optional<TaskInfo> getTask(String id);

    /**
     * Deletes a task that is not ACTIVE (releasing its unique lock).
     *
     * @return the state it was in, empty if it did not exist; nothing changed when it was ACTIVE
     */
    Optional<TaskState> deleteTask(String id);

    /**
     * Moves a SCHEDULED, RETRY or ARCHIVED task to PENDING.
     *
     * @return the state it was in, empty if it did not exist; nothing changed for other states
     */
    Optional<TaskState> runTask(String id, Instant now);

    /**
     * Moves a PENDING, SCHEDULED or RETRY task to ARCHIVED.
     *
     * @return the state it was in, empty if it did not exist; nothing changed for other states
     */
    Optional<TaskState> archiveTask(String id, Instant now);

    /** Moves every ARCHIVED task of a queue to PENDING; returns how many. */
    int runAllArchived(String queue, Instant now);

    /** Deletes every ARCHIVED task of a queue; returns how many. */
    int deleteAllArchived(String queue);

    /** The servers whose report has not expired at {@code now}. */
    List<ServerInfo> servers(Instant now);

    /** Releases what the store created; see the type's documentation. */
    @Override
    void close();
}
