package io.courier.tasks;

import io.courier.Codec;
import java.time.Instant;
import java.util.Objects;

/**
 * What a handler knows about the task it runs: the task, its id and queue, how often it has been
 * retried, and the instant by which this attempt must end. Immutable; one per attempt.
 */
public final class TaskContext {

    private final TaskInfo info;
    private final Instant attemptDeadline;
    private final Codec codec;

    /**
     * A context for one attempt.
     *
     * @param info            the task as claimed
     * @param attemptDeadline when this attempt is cut off (the earlier of start + timeout and the task's deadline)
     * @param codec           the codec {@link #payloadAs(Class)} uses
     */
    public TaskContext(TaskInfo info, Instant attemptDeadline, Codec codec) {
        this.info = Objects.requireNonNull(info, "info");
        this.attemptDeadline = Objects.requireNonNull(attemptDeadline, "attemptDeadline");
        this.codec = Objects.requireNonNull(codec, "codec");
    }

    /** The task id. */
    public String id() {
        return info.id();
    }

    /** The task type. */
    public String type() {
        return info.type();
    }

    /** The queue the task came from. */
    public String queue() {
        return info.queue();
    }

    /** The task (type and payload). */
    public Task task() {
        return info.task();
    }

    /** A copy of the payload bytes. */
    public byte[] payload() {
        return info.payload();
    }

    /**
     * The payload decoded by the server's codec (JSON by default).
     *
     * @throws io.courier.DecodingException if it cannot be decoded (non-retryable: the task is archived
     *                                      if the handler lets it propagate)
     */
    public <T> T payloadAs(Class<T> type) {
        return codec.decode(info.payload(), type);
    }

    /** Retries before this attempt: 0 on the first attempt. */
    public int retried() {
        return info.retried();
    }

    /** The retry budget: this task runs at most {@code maxRetry() + 1} times. */
    public int maxRetry() {
        return info.maxRetry();
    }

    /** True when a failure of this attempt archives the task rather than retrying it. */
    public boolean isLastAttempt() {
        return info.retried() >= info.maxRetry();
    }

    /** When this attempt is cut off (the handler thread is interrupted then). */
    public Instant deadline() {
        return attemptDeadline;
    }

    /** The stored snapshot of the task taken when it was claimed. */
    public TaskInfo info() {
        return info;
    }

    @Override
    public String toString() {
        return "TaskContext[id=" + id() + ", type=" + type() + ", queue=" + queue() + ", retried=" + retried() + "]";
    }
}
