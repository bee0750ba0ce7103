package io.courier.tasks;

import java.time.LocalDate;
import java.util.Objects;

/**
 * A queue's size per state and today's counters, from {@link TaskInspector#queues()}. Immutable.
 *
 * <p>Stores build one with {@link #builder()}; new figures are added to the builder with a
 * default, so a store written against an older version keeps compiling. (This is a class rather
 * than a record for that reason: a record's canonical constructor changes with every new component.)
 */
public final class QueueInfo {

    private final String name;
    private final boolean paused;
    private final long pending;
    private final long active;
    private final long scheduled;
    private final long retry;
    private final long archived;
    private final long completed;
    private final LocalDate day;
    private final long processed;
    private final long failed;

    private QueueInfo(Builder b) {
        this.name = b.name;
        this.paused = b.paused;
        this.pending = b.pending;
        this.active = b.active;
        this.scheduled = b.scheduled;
        this.retry = b.retry;
        this.archived = b.archived;
        this.completed = b.completed;
        this.day = b.day;
        this.processed = b.processed;
        this.failed = b.failed;
    }

    /**
     * A builder with every count at zero and the queue not paused. {@link Builder#name name} and
     * {@link Builder#day day} are required.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this snapshot's fields, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.name = name;
        b.paused = paused;
        b.pending = pending;
        b.active = active;
        b.scheduled = scheduled;
        b.retry = retry;
        b.archived = archived;
        b.completed = completed;
        b.day = day;
        b.processed = processed;
        b.failed = failed;
        return b;
    }

    /** The queue name. */
    public String name() {
        return name;
    }

    /** True while the queue is paused (no task is claimed from it). */
    public boolean paused() {
        return paused;
    }

    /** Tasks ready to run. */
    public long pending() {
        return pending;
    }

    /** Tasks running now. */
    public long active() {
        return active;
    }

    /** Tasks waiting for their process-at time. */
    public long scheduled() {
        return scheduled;
    }

    /** Failed tasks waiting for their next attempt. */
    public long retry() {
        return retry;
    }

    /** Tasks given up on. */
    public long archived() {
        return archived;
    }

    /** Completed tasks still retained. */
    public long completed() {
        return completed;
    }

    /** The (UTC) day that {@link #processed()} and {@link #failed()} belong to. */
    public LocalDate day() {
        return day;
    }

    /** Attempts finished on {@link #day()}, successful or not. */
    public long processed() {
        return processed;
    }

    /** Attempts failed on {@link #day()}. */
    public long failed() {
        return failed;
    }

    /**
     * The queue's size as Asynq counts it: the tasks that are still work or were given up on, that is
     * {@code pending + active + scheduled + retry + archived}. Completed tasks (kept only for their
     * retention, for inspection) are not counted; add {@link #completed()} for every stored task.
     * Zero means the queue has nothing left to run and nothing archived.
     */
    public long size() {
        return pending + active + scheduled + retry + archived;
    }

    /** The count for one state. */
    public long count(TaskState state) {
        return switch (state) {
            case PENDING -> pending;
            case ACTIVE -> active;
            case SCHEDULED -> scheduled;
            case RETRY -> retry;
            case ARCHIVED -> archived;
            case COMPLETED -> completed;
        };
    }

    /** Equal when every field is equal. */
    @Override
    public boolean equals(Object o) {
        return o instanceof QueueInfo q && name.equals(q.name) && paused == q.paused && pending == q.pending
                && active == q.active && scheduled == q.scheduled && retry == q.retry && archived == q.archived
                && completed == q.completed && day.equals(q.day) && processed == q.processed && failed == q.failed;
    }

    /** A hash of every field. */
    @Override
    public int hashCode() {
        return Objects.hash(name, paused, pending, active, scheduled, retry, archived, completed, day, processed,
                failed);
    }

    /** Every field, by name. */
    @Override
    public String toString() {
        return "QueueInfo[name=" + name + ", paused=" + paused + ", pending=" + pending + ", active=" + active
                + ", scheduled=" + scheduled + ", retry=" + retry + ", archived=" + archived + ", completed="
                + completed + ", day=" + day + ", processed=" + processed + ", failed=" + failed + "]";
    }

    /** Builds a {@link QueueInfo}. Not thread-safe. Counts must not be negative. */
    public static final class Builder {
        private String name;
        private boolean paused;
        private long pending;
        private long active;
        private long scheduled;
        private long retry;
        private long archived;
        private long completed;
        private LocalDate day;
        private long processed;
        private long failed;

        private Builder() {
        }

        /** The queue name (required). */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Whether the queue is paused; default false. */
        public Builder paused(boolean paused) {
            this.paused = paused;
            return this;
        }

        /** Tasks ready to run; default 0. */
        public Builder pending(long pending) {
            this.pending = requireCount(pending, "pending");
            return this;
        }

        /** Tasks running now; default 0. */
        public Builder active(long active) {
            this.active = requireCount(active, "active");
            return this;
        }

        /** Tasks waiting for their process-at time; default 0. */
        public Builder scheduled(long scheduled) {
            this.scheduled = requireCount(scheduled, "scheduled");
            return this;
        }

        /** Failed tasks waiting for their next attempt; default 0. */
        public Builder retry(long retry) {
            this.retry = requireCount(retry, "retry");
            return this;
        }

        /** Tasks given up on; default 0. */
        public Builder archived(long archived) {
            this.archived = requireCount(archived, "archived");
            return this;
        }

        /** Completed tasks still retained; default 0. */
        public Builder completed(long completed) {
            this.completed = requireCount(completed, "completed");
            return this;
        }

        /** The count for one state: the same as calling that state's setter. */
        public Builder count(TaskState state, long count) {
            return switch (Objects.requireNonNull(state, "state")) {
                case PENDING -> pending(count);
                case ACTIVE -> active(count);
                case SCHEDULED -> scheduled(count);
                case RETRY -> retry(count);
                case ARCHIVED -> archived(count);
                case COMPLETED -> completed(count);
            };
        }

        /** The (UTC) day the processed and failed counters belong to (required). */
        public Builder day(LocalDate day) {
            this.day = Objects.requireNonNull(day, "day");
            return this;
        }

        /** Attempts finished on the day, successful or not; default 0. */
        public Builder processed(long processed) {
            this.processed = requireCount(processed, "processed");
            return this;
        }

        /** Attempts failed on the day; default 0. */
        public Builder failed(long failed) {
            this.failed = requireCount(failed, "failed");
            return this;
        }

        /**
         * The snapshot.
         *
         * @throws IllegalStateException if name or day was not set
         */
        public QueueInfo build() {
            if (name == null || day == null) {
                throw new IllegalStateException("QueueInfo." + (name == null ? "name" : "day") + " is required");
            }
            return new QueueInfo(this);
        }

        private static long requireCount(long count, String what) {
            if (count < 0) {
                throw new IllegalArgumentException(what + " must not be negative: " + count);
            }
            return count;
        }
    }
}
