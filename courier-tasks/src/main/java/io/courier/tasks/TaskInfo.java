package io.courier.tasks;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot of one stored task, as returned by {@link TaskClient#enqueue} and the
 * {@link TaskInspector}. Immutable; the payload is copied in and out.
 *
 * @param id             the task id (generated, or chosen by the caller)
 * @param queue          the queue it belongs to
 * @param type           the task type
 * @param payload        the payload bytes
 * @param state          the state when the snapshot was taken
 * @param retried        how many times it has been retried so far (failed attempts that were
 *                       followed by another attempt); 0 on the first attempt
 * @param maxRetry       how many retries it may have; it runs at most {@code maxRetry + 1} times
 * @param lastError      the message of the last failure, if any
 * @param lastFailedAt   when it last failed, if it did
 * @param enqueuedAt     when it was enqueued
 * @param nextProcessAt  when it runs next: the process-at time (SCHEDULED), the retry time (RETRY)
 *                       or the time it became ready (PENDING); empty in the other states
 * @param timeout        the per-attempt timeout, if set
 * @param deadline       the absolute deadline, if set
 * @param retention      how long it is kept once completed ({@link Duration#ZERO}: deleted at once)
 * @param startedAt      when the current attempt started (ACTIVE only)
 * @param completedAt    when it completed (COMPLETED only)
 * @param worker         the id of the server running it (ACTIVE only)
 * @param leaseExpiresAt when the worker's lease runs out unless renewed (ACTIVE only)
 * @param result         the last result a handler wrote with {@link TaskContext#writeResult(byte[])},
 *                       in any state, if one was written; kept as long as the task is (so a completed
 *                       task's result is readable only when the task has a retention)
 */
public record TaskInfo(
        String id,
        String queue,
        String type,
        byte[] payload,
        TaskState state,
        int retried,
        int maxRetry,
        Optional<String> lastError,
        Optional<Instant> lastFailedAt,
        Instant enqueuedAt,
        Optional<Instant> nextProcessAt,
        Optional<Duration> timeout,
        Optional<Instant> deadline,
        Duration retention,
        Optional<Instant> startedAt,
        Optional<Instant> completedAt,
        Optional<String> worker,
        Optional<Instant> leaseExpiresAt,
        Optional<byte[]> result) {

    /** Checks that nothing is null and copies the payload and the result. */
    public TaskInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(type, "type");
        payload = Objects.requireNonNull(payload, "payload").clone();
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(lastError, "lastError");
        Objects.requireNonNull(lastFailedAt, "lastFailedAt");
        Objects.requireNonNull(enqueuedAt, "enqueuedAt");
        Objects.requireNonNull(nextProcessAt, "nextProcessAt");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(deadline, "deadline");
        Objects.requireNonNull(retention, "retention");
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(completedAt, "completedAt");
        Objects.requireNonNull(worker, "worker");
        Objects.requireNonNull(leaseExpiresAt, "leaseExpiresAt");
        result = Objects.requireNonNull(result, "result").map(byte[]::clone);
    }

    /**
     * A snapshot without a result (for stores written before results existed): the canonical
     * constructor with an empty {@code result}.
     */
    public TaskInfo(String id, String queue, String type, byte[] payload, TaskState state, int retried, int maxRetry,
                    Optional<String> lastError, Optional<Instant> lastFailedAt, Instant enqueuedAt,
                    Optional<Instant> nextProcessAt, Optional<Duration> timeout, Optional<Instant> deadline,
                    Duration retention, Optional<Instant> startedAt, Optional<Instant> completedAt,
                    Optional<String> worker, Optional<Instant> leaseExpiresAt) {
        this(id, queue, type, payload, state, retried, maxRetry, lastError, lastFailedAt, enqueuedAt, nextProcessAt,
                timeout, deadline, retention, startedAt, completedAt, worker, leaseExpiresAt, Optional.empty());
    }

    /** A copy of the payload bytes. */
    @Override
    public byte[] payload() {
        return payload.clone();
    }

    /** A copy of the result bytes, if a handler wrote a result. */
    @Override
    public Optional<byte[]> result() {
        return result.map(byte[]::clone);
    }

    /** The task (type and payload). */
    public Task task() {
        return Task.of(type, payload);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TaskInfo t && id.equals(t.id) && queue.equals(t.queue) && type.equals(t.type)
                && Arrays.equals(payload, t.payload) && state == t.state && retried == t.retried
                && maxRetry == t.maxRetry && lastError.equals(t.lastError) && lastFailedAt.equals(t.lastFailedAt)
                && enqueuedAt.equals(t.enqueuedAt) && nextProcessAt.equals(t.nextProcessAt)
                && timeout.equals(t.timeout) && deadline.equals(t.deadline) && retention.equals(t.retention)
                && startedAt.equals(t.startedAt) && completedAt.equals(t.completedAt) && worker.equals(t.worker)
                && leaseExpiresAt.equals(t.leaseExpiresAt)
                && result.isPresent() == t.result.isPresent()
                && (result.isEmpty() || Arrays.equals(result.get(), t.result.get()));
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, state, retried);
    }

    @Override
    public String toString() {
        return "TaskInfo[id=" + id + ", queue=" + queue + ", type=" + type + ", state=" + state
                + ", retried=" + retried + "/" + maxRetry + lastError.map(e -> ", lastError=" + e).orElse("")
                + nextProcessAt.map(t -> ", nextProcessAt=" + t).orElse("") + "]";
    }
}
