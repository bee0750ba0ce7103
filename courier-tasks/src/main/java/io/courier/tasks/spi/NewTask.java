package io.courier.tasks.spi;

import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskState;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A task to store, fully resolved by the client: id, times and the unique key are decided before
 * the store sees it.
 *
 * @param id           the task id
 * @param queue        the queue
 * @param type         the task type
 * @param payload      the payload (not copied: the store must not modify it)
 * @param maxRetry     retries allowed after the first attempt
 * @param timeout      the per-attempt timeout, if any
 * @param deadline     the absolute deadline, if any
 * @param retention    how long to keep the task once completed
 * @param enqueuedAt   the enqueue time
 * @param processAt    when it may run; after {@code enqueuedAt} the task starts SCHEDULED, else PENDING
 * @param uniqueKey    the uniqueness key (a digest of queue, type and payload) if the task is unique
 * @param uniqueTtl    how long the uniqueness lock lasts (present exactly when uniqueKey is)
 * @param periodicTick the schedule tick this task belongs to, if a {@link io.courier.tasks.TaskScheduler} made it
 */
public record NewTask(
        String id,
        String queue,
        String type,
        byte[] payload,
        int maxRetry,
        Optional<Duration> timeout,
        Optional<Instant> deadline,
        Duration retention,
        Instant enqueuedAt,
        Instant processAt,
        Optional<String> uniqueKey,
        Optional<Duration> uniqueTtl,
        Optional<PeriodicTick> periodicTick) {

    /** Checks for nulls and that the unique key and TTL come together. */
    public NewTask {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(queue, "queue");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(deadline, "deadline");
        Objects.requireNonNull(retention, "retention");
        Objects.requireNonNull(enqueuedAt, "enqueuedAt");
        Objects.requireNonNull(processAt, "processAt");
        Objects.requireNonNull(uniqueKey, "uniqueKey");
        Objects.requireNonNull(uniqueTtl, "uniqueTtl");
        Objects.requireNonNull(periodicTick, "periodicTick");
        if (uniqueKey.isPresent() != uniqueTtl.isPresent()) {
            throw new IllegalArgumentException("uniqueKey and uniqueTtl must be both present or both empty");
        }
    }

    /** SCHEDULED when {@code processAt} is after {@code enqueuedAt}, else PENDING. */
    public TaskState initialState() {
        return processAt.isAfter(enqueuedAt) ? TaskState.SCHEDULED : TaskState.PENDING;
    }

    /** The info a store returns once this task is stored. */
    public TaskInfo toInfo() {
        return TaskInfo.builder().id(id).queue(queue).type(type).payload(payload).state(initialState())
                .maxRetry(maxRetry).enqueuedAt(enqueuedAt).nextProcessAt(processAt).timeout(timeout.orElse(null))
                .deadline(deadline.orElse(null)).retention(retention).build();
    }

    /** The error message for a duplicate of this task. */
    public String duplicateMessage() {
        if (periodicTick.isPresent()) {
            return "tick " + periodicTick.get().tick() + " of schedule '" + periodicTick.get().scheduleId()
                    + "' was enqueued already";
        }
        return "a unique task of type '" + type + "' with the same payload is already in queue '" + queue
                + "' (unique for " + uniqueTtl.map(Duration::toString).orElse("?") + ")";
    }
}
