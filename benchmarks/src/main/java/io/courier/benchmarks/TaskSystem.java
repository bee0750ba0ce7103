package io.courier.benchmarks;

import java.util.function.LongConsumer;

/**
 * One task queue under test in a {@code tasks-} scenario: Courier's task server on one store, or
 * JobRunr on PostgreSQL. Each instance has its own fresh tables or keys, removed by {@link #close()}.
 *
 * <p>Every task is a no-op that carries the {@link System#nanoTime()} at which it was meant to be
 * enqueued, so the handler can measure enqueue-to-start latency.
 */
interface TaskSystem extends AutoCloseable {

    /** Enqueues one no-op task and returns once it is durable in the store. Called from several threads at once. */
    void enqueue(long enqueuedAtNanos) throws Exception;

    /**
     * Starts processing with {@code workers} workers; {@code onRun} is called from the worker threads
     * with the task's enqueue time each time a handler runs.
     */
    void start(int workers, LongConsumer onRun) throws Exception;

    /** Tasks in the store that have not finished yet (pending, scheduled, running, retrying). Not timed. */
    long unfinished() throws Exception;

    /** A description of tasks that failed (none should: the handlers are no-ops), or null. Not timed. */
    String problem() throws Exception;

    /** Stops processing, then drops the tables or deletes the keys. */
    @Override
    void close() throws Exception;

    /** Creates a fresh system for one phase. */
    @FunctionalInterface
    interface Factory {
        /** Builds the system; {@code runId} is unique per phase, for naming schemas, files and keys. */
        TaskSystem create(String runId) throws Exception;
    }
}
