package io.courier.tasks;

/**
 * Where a task is in its life. The transitions (see {@code docs/tasks.md} for the diagram):
 *
 * <pre>
 *  enqueue ──► PENDING ◄──── SCHEDULED ◄── enqueue with processAt/processIn
 *                 │  ▲  ▲         (due)
 *           claim │  │  └──────── RETRY ◄──┐ failure with retries left,
 *                 ▼  │ (due)              │ lease expired, RetryLaterException
 *               ACTIVE ───────────────────┘
 *                 │ └──────────► ARCHIVED   retries exhausted, SkipRetryException,
 *                 │                          non-retryable error, deadline passed
 *                 └─► COMPLETED (kept for the retention, then deleted) or deleted at once
 * </pre>
 *
 * Graceful shutdown returns ACTIVE tasks to PENDING; the inspector moves SCHEDULED, RETRY and
 * ARCHIVED tasks to PENDING ("run now") and PENDING, SCHEDULED and RETRY tasks to ARCHIVED.
 */
public enum TaskState {
    /** Ready to run; waiting for a worker. */
    PENDING,
    /** Claimed by a worker, which holds a lease on it and is running its handler. */
    ACTIVE,
    /** Waiting for its process-at time. */
    SCHEDULED,
    /** Failed; waiting for its next attempt. */
    RETRY,
    /** Given up on (dead); kept for inspection until deleted or run again. */
    ARCHIVED,
    /** Handled successfully; kept only while its retention lasts. */
    COMPLETED;

    /** The lower-case name used in storage and in the inspector ({@code pending}, ...). */
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The state for a {@link #wireName()}.
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public static TaskState fromWireName(String name) {
        for (TaskState s : values()) {
            if (s.wireName().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown task state '" + name + "'");
    }
}
