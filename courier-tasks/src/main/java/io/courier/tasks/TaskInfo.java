package io.courier.tasks;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot of one stored task, as returned by {@link TaskClient#enqueue} and the
 * {@link TaskInspector}. Immutable; the payload and the result are copied in and out.
 *
 * <p>Stores build one with {@link #builder()}; new fields are added to the builder with a default,
 * so a store written against an older version keeps compiling. (This is a class rather than a
 * record for that reason: a record's canonical constructor changes with every new component.)
 */
public final class TaskInfo {

    private final String id;
    private final String queue;
    private final String type;
    private final byte[] payload;
    private final TaskState state;
    private final int retried;
    private final int maxRetry;
    private final Optional<String> lastError;
    private final Optional<Instant> lastFailedAt;
    private final Instant enqueuedAt;
    private final Optional<Instant> nextProcessAt;
    private final Optional<Duration> timeout;
    private final Optional<Instant> deadline;
    private final Duration retention;
    private final Optional<Instant> startedAt;
    private final Optional<Instant> completedAt;
    private final Optional<String> worker;
    private final Optional<Instant> leaseExpiresAt;
    private final Optional<byte[]> result;

    private TaskInfo(Builder b) {
        this.id = b.id;
        this.queue = b.queue;
        this.type = b.type;
        this.payload = b.payload.clone();
        this.state = b.state;
        this.retried = b.retried;
        this.maxRetry = b.maxRetry;
        this.lastError = Optional.ofNullable(b.lastError);
        this.lastFailedAt = Optional.ofNullable(b.lastFailedAt);
        this.enqueuedAt = b.enqueuedAt;
        this.nextProcessAt = Optional.ofNullable(b.nextProcessAt);
        this.timeout = Optional.ofNullable(b.timeout);
        this.deadline = Optional.ofNullable(b.deadline);
        this.retention = b.retention;
        this.startedAt = Optional.ofNullable(b.startedAt);
        this.completedAt = Optional.ofNullable(b.completedAt);
        this.worker = Optional.ofNullable(b.worker);
        this.leaseExpiresAt = Optional.ofNullable(b.leaseExpiresAt);
        this.result = Optional.ofNullable(b.result).map(byte[]::clone);
    }

    /**
     * A builder with nothing set. {@link Builder#id id}, {@link Builder#queue queue},
     * {@link Builder#type type}, {@link Builder#state state} and {@link Builder#enqueuedAt enqueuedAt}
     * are required; every other field has a default (see its setter).
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this snapshot's fields, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.id = id;
        b.queue = queue;
        b.type = type;
        b.payload = payload;
        b.state = state;
        b.retried = retried;
        b.maxRetry = maxRetry;
        b.lastError = lastError.orElse(null);
        b.lastFailedAt = lastFailedAt.orElse(null);
        b.enqueuedAt = enqueuedAt;
        b.nextProcessAt = nextProcessAt.orElse(null);
        b.timeout = timeout.orElse(null);
        b.deadline = deadline.orElse(null);
        b.retention = retention;
        b.startedAt = startedAt.orElse(null);
        b.completedAt = completedAt.orElse(null);
        b.worker = worker.orElse(null);
        b.leaseExpiresAt = leaseExpiresAt.orElse(null);
        b.result = result.orElse(null);
        return b;
    }

    /** The task id (generated, or chosen by the caller). */
    public String id() {
        return id;
    }

    /** The queue it belongs to. */
    public String queue() {
        return queue;
    }

    /** The task type. */
    public String type() {
        return type;
    }

    /** A copy of the payload bytes. */
    public byte[] payload() {
        return payload.clone();
    }

    /** The state when the snapshot was taken. */
    public TaskState state() {
        return state;
    }

    /**
     * How many times it has been retried so far (failed attempts that were followed by another
     * attempt); 0 on the first attempt.
     */
    public int retried() {
        return retried;
    }

    /** How many retries it may have; it runs at most {@code maxRetry + 1} times. */
    public int maxRetry() {
        return maxRetry;
    }

    /** The message of the last failure, if any. */
    public Optional<String> lastError() {
        return lastError;
    }

    /** When it last failed, if it did. */
    public Optional<Instant> lastFailedAt() {
        return lastFailedAt;
    }

    /** When it was enqueued. */
    public Instant enqueuedAt() {
        return enqueuedAt;
    }

    /**
     * When it runs next: the process-at time (SCHEDULED), the retry time (RETRY) or the time it
     * became ready (PENDING); empty in the other states.
     */
    public Optional<Instant> nextProcessAt() {
        return nextProcessAt;
    }

    /** The per-attempt timeout, if set. */
    public Optional<Duration> timeout() {
        return timeout;
    }

    /** The absolute deadline, if set. */
    public Optional<Instant> deadline() {
        return deadline;
    }

    /** How long it is kept once completed ({@link Duration#ZERO}: deleted at once). */
    public Duration retention() {
        return retention;
    }

    /** When the current attempt started (ACTIVE only). */
    public Optional<Instant> startedAt() {
        return startedAt;
    }

    /** When it completed (COMPLETED only). */
    public Optional<Instant> completedAt() {
        return completedAt;
    }

    /** The id of the server running it (ACTIVE only). */
    public Optional<String> worker() {
        return worker;
    }

    /** When the worker's lease runs out unless renewed (ACTIVE only). */
    public Optional<Instant> leaseExpiresAt() {
        return leaseExpiresAt;
    }

    /**
     * A copy of the last result a handler wrote with {@link TaskContext#writeResult(byte[])}, in any
     * state, if one was written. It is kept as long as the task is, so a completed task's result is
     * readable only when the task has a retention.
     */
    public Optional<byte[]> result() {
        return result.map(byte[]::clone);
    }

    /** The task (type and payload). */
    public Task task() {
        return Task.of(type, payload);
    }

    /** Equal when every field is equal (payload and result by content). */
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

    /** A hash of the id, state and retry count (consistent with {@link #equals}). */
    @Override
    public int hashCode() {
        return Objects.hash(id, state, retried);
    }

    /** The id, queue, type, state, retries, last error and next process time (not the payload). */
    @Override
    public String toString() {
        return "TaskInfo[id=" + id + ", queue=" + queue + ", type=" + type + ", state=" + state
                + ", retried=" + retried + "/" + maxRetry + lastError.map(e -> ", lastError=" + e).orElse("")
                + nextProcessAt.map(t -> ", nextProcessAt=" + t).orElse("") + "]";
    }

    /**
     * Builds a {@link TaskInfo}. Not thread-safe. Setters of optional fields take the plain value,
     * with {@code null} meaning absent; {@link #build()} checks the required ones.
     */
    public static final class Builder {
        private String id;
        private String queue;
        private String type;
        private byte[] payload = new byte[0];
        private TaskState state;
        private int retried;
        private int maxRetry;
        private String lastError;
        private Instant lastFailedAt;
        private Instant enqueuedAt;
        private Instant nextProcessAt;
        private Duration timeout;
        private Instant deadline;
        private Duration retention = Duration.ZERO;
        private Instant startedAt;
        private Instant completedAt;
        private String worker;
        private Instant leaseExpiresAt;
        private byte[] result;

        private Builder() {
        }

        /** The task id (required). */
        public Builder id(String id) {
            this.id = Objects.requireNonNull(id, "id");
            return this;
        }

        /** The queue (required). */
        public Builder queue(String queue) {
            this.queue = Objects.requireNonNull(queue, "queue");
            return this;
        }

        /** The task type (required). */
        public Builder type(String type) {
            this.type = Objects.requireNonNull(type, "type");
            return this;
        }

        /** The payload bytes, copied when built; default empty. */
        public Builder payload(byte[] payload) {
            this.payload = Objects.requireNonNull(payload, "payload");
            return this;
        }

        /** The state (required). */
        public Builder state(TaskState state) {
            this.state = Objects.requireNonNull(state, "state");
            return this;
        }

        /** How many times it was retried so far; not negative; default 0. */
        public Builder retried(int retried) {
            if (retried < 0) {
                throw new IllegalArgumentException("retried must not be negative: " + retried);
            }
            this.retried = retried;
            return this;
        }

        /** How many retries it may have; not negative; default 0. */
        public Builder maxRetry(int maxRetry) {
            if (maxRetry < 0) {
                throw new IllegalArgumentException("maxRetry must not be negative: " + maxRetry);
            }
            this.maxRetry = maxRetry;
            return this;
        }

        /** The message of the last failure; {@code null} (the default) for none. */
        public Builder lastError(String lastError) {
            this.lastError = lastError;
            return this;
        }

        /** When it last failed; {@code null} (the default) if it never did. */
        public Builder lastFailedAt(Instant lastFailedAt) {
            this.lastFailedAt = lastFailedAt;
            return this;
        }

        /** When it was enqueued (required). */
        public Builder enqueuedAt(Instant enqueuedAt) {
            this.enqueuedAt = Objects.requireNonNull(enqueuedAt, "enqueuedAt");
            return this;
        }

        /** When it runs next (waiting states only); {@code null} (the default) for none. */
        public Builder nextProcessAt(Instant nextProcessAt) {
            this.nextProcessAt = nextProcessAt;
            return this;
        }

        /** The per-attempt timeout; positive, or {@code null} (the default) for none. */
        public Builder timeout(Duration timeout) {
            if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
                throw new IllegalArgumentException("timeout must be positive: " + timeout);
            }
            this.timeout = timeout;
            return this;
        }

        /** The absolute deadline; {@code null} (the default) for none. */
        public Builder deadline(Instant deadline) {
            this.deadline = deadline;
            return this;
        }

        /** How long it is kept once completed; not negative; default {@link Duration#ZERO}. */
        public Builder retention(Duration retention) {
            Objects.requireNonNull(retention, "retention");
            if (retention.isNegative()) {
                throw new IllegalArgumentException("retention must not be negative: " + retention);
            }
            this.retention = retention;
            return this;
        }

        /** When the current attempt started (ACTIVE only); {@code null} (the default) for none. */
        public Builder startedAt(Instant startedAt) {
            this.startedAt = startedAt;
            return this;
        }

        /** When it completed (COMPLETED only); {@code null} (the default) for none. */
        public Builder completedAt(Instant completedAt) {
            this.completedAt = completedAt;
            return this;
        }

        /** The id of the server running it (ACTIVE only); {@code null} (the default) for none. */
        public Builder worker(String worker) {
            this.worker = worker;
            return this;
        }

        /** When the worker's lease runs out (ACTIVE only); {@code null} (the default) for none. */
        public Builder leaseExpiresAt(Instant leaseExpiresAt) {
            this.leaseExpiresAt = leaseExpiresAt;
            return this;
        }

        /** The last result a handler wrote, copied when built; {@code null} (the default) for none. */
        public Builder result(byte[] result) {
            this.result = result;
            return this;
        }

        /**
         * The snapshot.
         *
         * @throws IllegalStateException if id, queue, type, state or enqueuedAt was not set
         */
        public TaskInfo build() {
            require(id, "id");
            require(queue, "queue");
            require(type, "type");
            require(state, "state");
            require(enqueuedAt, "enqueuedAt");
            return new TaskInfo(this);
        }

        private static void require(Object value, String name) {
            if (value == null) {
                throw new IllegalStateException("TaskInfo." + name + " is required");
            }
        }
    }
}
