package io.courier.tasks;

import io.courier.Codec;
import java.time.Instant;
import java.util.Objects;

/**
 * What a handler knows about the task it runs: the task, its id and queue, which attempt this is,
 * the instant by which this attempt must end; and where it can write a result that the
 * {@link TaskInspector} shows with the task ({@link #writeResult(byte[])}). One per attempt;
 * thread-safe.
 */
public final class TaskContext {

    private final TaskInfo info;
    private final Instant attemptDeadline;
    private final Codec codec;
    private final ResultWriter resultWriter;

    /**
     * A context for one attempt that cannot write results ({@link #writeResult(byte[])} throws
     * {@link UnsupportedOperationException}); for tests of handlers that write none.
     *
     * @param info            the task as claimed
     * @param attemptDeadline when this attempt is cut off (the earlier of start + timeout and the task's deadline)
     * @param codec           the codec {@link #payloadAs(Class)} uses
     */
    public TaskContext(TaskInfo info, Instant attemptDeadline, Codec codec) {
        this(info, attemptDeadline, codec, result -> {
            throw new UnsupportedOperationException("this task context has no result writer");
        });
    }

    /**
     * A context for one attempt.
     *
     * @param info            the task as claimed
     * @param attemptDeadline when this attempt is cut off (the earlier of start + timeout and the task's deadline)
     * @param codec           the codec {@link #payloadAs(Class)} and {@link #writeResult(Object)} use
     * @param resultWriter    where {@link #writeResult(byte[])} sends results
     */
    public TaskContext(TaskInfo info, Instant attemptDeadline, Codec codec, ResultWriter resultWriter) {
        this.info = Objects.requireNonNull(info, "info");
        this.attemptDeadline = Objects.requireNonNull(attemptDeadline, "attemptDeadline");
        this.codec = Objects.requireNonNull(codec, "codec");
        this.resultWriter = Objects.requireNonNull(resultWriter, "resultWriter");
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

    /** Retries before this attempt: 0 on the first attempt (the task's {@link TaskInfo#retried()} when claimed). */
    public int retried() {
        return info.retried();
    }

    /**
     * Which attempt this is, 1-based: {@code retried() + 1}, so 1 on the first run and
     * {@code maxRetry() + 1} on the last. It counts as {@link TaskInfo#retried()} does: a run that
     * ended without consuming a retry ({@link RetryLaterException}, an error the server's
     * {@code isFailure} predicate excludes, a task returned to pending at shutdown or run again from
     * the inspector) is not counted, so the next run has the same attempt number.
     */
    public int attempt() {
        return info.retried() + 1;
    }

    /** The retry budget: this task runs at most {@code maxRetry() + 1} times. */
    public int maxRetry() {
        return info.maxRetry();
    }

    /**
     * Stores {@code result} with the task, replacing any result written before (by this or an earlier
     * attempt); the inspector shows it as {@link TaskInfo#result()}. It is written at once, whatever
     * the attempt's outcome, and kept as long as the task is: a completed task is deleted at once
     * unless it has a retention ({@link TaskOptions.Builder#retention}), so set one to read the result
     * of a completed task.
     *
     * @param result the bytes (copied before this returns)
     * @return true if stored; false if this attempt no longer holds the task (it timed out, lost its
     *         lease or was returned to pending at shutdown): the result is discarded
     * @throws IllegalArgumentException      if it is larger than the server's
     *                                       {@link TaskServer.Builder#maxResultBytes(int) maxResultBytes}
     * @throws TaskStoreException            if the store cannot be written
     * @throws UnsupportedOperationException for a context made without a result writer
     */
    public boolean writeResult(byte[] result) {
        return resultWriter.write(Objects.requireNonNull(result, "result").clone());
    }

    /**
     * Encodes {@code value} with the server's codec (JSON by default) and stores it as
     * {@link #writeResult(byte[])} does.
     *
     * @return true if stored; false if this attempt no longer holds the task
     * @throws io.courier.CourierException   if the value cannot be encoded
     * @throws IllegalArgumentException      if the encoded result is too large
     */
    public boolean writeResult(Object value) {
        return resultWriter.write(codec.encode(Objects.requireNonNull(value, "value")));
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
        return "TaskContext[id=" + id() + ", type=" + type() + ", queue=" + queue() + ", attempt=" + attempt() + "]";
    }
}
