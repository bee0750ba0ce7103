package io.courier.tasks;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * How one task is enqueued: its queue, retry budget, time limits, when it runs, uniqueness, id and
 * retention. Immutable; build with {@link #builder()}.
 *
 * <pre>{@code
 * TaskOptions opts = TaskOptions.builder()
 *     .queue("critical")
 *     .maxRetry(3)
 *     .timeout(Duration.ofMinutes(5))
 *     .processIn(Duration.ofSeconds(30))
 *     .unique(Duration.ofHours(1))
 *     .build();
 * }</pre>
 *
 * @param queue      the queue (default {@value #DEFAULT_QUEUE}); letters, digits and {@code . _ : -}
 * @param maxRetry   retries after the first attempt (default {@value #DEFAULT_MAX_RETRY}, as in Asynq);
 *                   0 means one attempt only
 * @param timeout    the limit for one attempt; when it passes the handler thread is interrupted and
 *                   the attempt counts as failed (retried if retries are left). When neither timeout
 *                   nor deadline is set the server's default timeout applies (30 minutes)
 * @param deadline   an absolute time after which the task may not run; an attempt still running is
 *                   interrupted then, and the task is archived (retrying cannot meet a passed deadline)
 * @param processAt  run no earlier than this (the task is SCHEDULED until then)
 * @param processIn  run no earlier than this long after enqueueing (used when processAt is empty)
 * @param uniqueTtl  when set, enqueueing the same type + payload into the same queue again while this
 *                   lasts fails with {@link DuplicateTaskException}; the lock is released early when the
 *                   task completes or is deleted
 * @param taskId     a caller-chosen id; enqueueing an id that exists fails with
 *                   {@link TaskIdConflictException}. Generated (a random UUID) when empty
 * @param retention  how long a completed task is kept for inspection (default zero: deleted at once)
 */
public record TaskOptions(
        String queue,
        int maxRetry,
        Optional<Duration> timeout,
        Optional<Instant> deadline,
        Optional<Instant> processAt,
        Optional<Duration> processIn,
        Optional<Duration> uniqueTtl,
        Optional<String> taskId,
        Duration retention) {

    /** The queue used when none is given. */
    public static final String DEFAULT_QUEUE = "default";
    /** Retries after the first attempt when none is given (Asynq's default). */
    public static final int DEFAULT_MAX_RETRY = 25;
    /** Longest queue name and task id. */
    public static final int MAX_NAME_LENGTH = 200;

    private static final Pattern QUEUE_NAME = Pattern.compile("[A-Za-z0-9._:\\-]+");
    private static final TaskOptions DEFAULTS = builder().build();

    /** Validates every component; messages say what was expected and what was given. */
    public TaskOptions {
        requireQueueName(queue);
        if (maxRetry < 0) {
            throw new IllegalArgumentException("maxRetry must be >= 0, but was " + maxRetry);
        }
        Objects.requireNonNull(timeout, "timeout");
        timeout.ifPresent(t -> requirePositive(t, "timeout"));
        Objects.requireNonNull(deadline, "deadline");
        Objects.requireNonNull(processAt, "processAt");
        Objects.requireNonNull(processIn, "processIn");
        processIn.ifPresent(d -> {
            if (d.isNegative()) {
                throw new IllegalArgumentException("processIn must be >= 0, but was " + d);
            }
        });
        Objects.requireNonNull(uniqueTtl, "uniqueTtl");
        uniqueTtl.ifPresent(t -> requirePositive(t, "uniqueTtl"));
        Objects.requireNonNull(taskId, "taskId");
        taskId.ifPresent(TaskOptions::requireTaskId);
        Objects.requireNonNull(retention, "retention");
        if (retention.isNegative()) {
            throw new IllegalArgumentException("retention must be >= 0, but was " + retention);
        }
    }

    /** The defaults: queue {@value #DEFAULT_QUEUE}, {@value #DEFAULT_MAX_RETRY} retries, nothing else set. */
    public static TaskOptions defaults() {
        return DEFAULTS;
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.queue = queue;
        b.maxRetry = maxRetry;
        b.timeout = timeout.orElse(null);
        b.deadline = deadline.orElse(null);
        b.processAt = processAt.orElse(null);
        b.processIn = processIn.orElse(null);
        b.uniqueTtl = uniqueTtl.orElse(null);
        b.taskId = taskId.orElse(null);
        b.retention = retention;
        return b;
    }

    /**
     * Checks a queue name.
     *
     * @throws IllegalArgumentException if it is blank, too long or has characters other than letters,
     *                                  digits and {@code . _ : -}
     */
    public static String requireQueueName(String queue) {
        Objects.requireNonNull(queue, "queue");
        if (queue.isEmpty() || queue.length() > MAX_NAME_LENGTH || !QUEUE_NAME.matcher(queue).matches()) {
            throw new IllegalArgumentException("queue must be 1-" + MAX_NAME_LENGTH
                    + " letters, digits or . _ : -, but was '" + queue + "'");
        }
        return queue;
    }

    static String requireTaskId(String id) {
        Objects.requireNonNull(id, "taskId");
        if (id.isBlank() || id.length() > MAX_NAME_LENGTH || id.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException("taskId must be 1-" + MAX_NAME_LENGTH
                    + " characters without whitespace, but was '" + id + "'");
        }
        return id;
    }

    private static void requirePositive(Duration d, String what) {
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException(what + " must be > 0, but was " + d);
        }
    }

    /** Builds {@link TaskOptions}. Not thread-safe. */
    public static final class Builder {
        private String queue = DEFAULT_QUEUE;
        private int maxRetry = DEFAULT_MAX_RETRY;
        private Duration timeout;
        private Instant deadline;
        private Instant processAt;
        private Duration processIn;
        private Duration uniqueTtl;
        private String taskId;
        private Duration retention = Duration.ZERO;

        private Builder() {
        }

        /** The queue (default {@value TaskOptions#DEFAULT_QUEUE}). */
        public Builder queue(String queue) {
            this.queue = queue;
            return this;
        }

        /** Retries after the first attempt (default {@value TaskOptions#DEFAULT_MAX_RETRY}). */
        public Builder maxRetry(int maxRetry) {
            this.maxRetry = maxRetry;
            return this;
        }

        /** The limit for one attempt. */
        public Builder timeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** The absolute deadline. */
        public Builder deadline(Instant deadline) {
            this.deadline = Objects.requireNonNull(deadline, "deadline");
            return this;
        }

        /** Run no earlier than {@code at}; replaces an earlier {@link #processIn}. */
        public Builder processAt(Instant at) {
            this.processAt = Objects.requireNonNull(at, "processAt");
            this.processIn = null;
            return this;
        }

        /** Run no earlier than {@code delay} after enqueueing; replaces an earlier {@link #processAt}. */
        public Builder processIn(Duration delay) {
            this.processIn = Objects.requireNonNull(delay, "processIn");
            this.processAt = null;
            return this;
        }

        /** Reject duplicates (same type, payload and queue) for {@code ttl}. */
        public Builder unique(Duration ttl) {
            this.uniqueTtl = Objects.requireNonNull(ttl, "uniqueTtl");
            return this;
        }

        /** A caller-chosen task id. */
        public Builder taskId(String taskId) {
            this.taskId = Objects.requireNonNull(taskId, "taskId");
            return this;
        }

        /** Keep the task this long after it completes (default zero). */
        public Builder retention(Duration retention) {
            this.retention = Objects.requireNonNull(retention, "retention");
            return this;
        }

        /**
         * Validates and builds.
         *
         * @throws IllegalArgumentException naming the first invalid value
         */
        public TaskOptions build() {
            return new TaskOptions(queue, maxRetry, Optional.ofNullable(timeout), Optional.ofNullable(deadline),
                    Optional.ofNullable(processAt), Optional.ofNullable(processIn), Optional.ofNullable(uniqueTtl),
                    Optional.ofNullable(taskId), retention);
        }
    }
}
