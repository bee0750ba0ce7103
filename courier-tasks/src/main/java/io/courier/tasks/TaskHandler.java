package io.courier.tasks;

/**
 * Runs one task.
 *
 * <p><b>Outcome.</b> Returning normally completes the task. Throwing fails the attempt: the task is
 * retried after the server's {@link RetryDelay} while it has retries left and archived after the
 * last. Exceptions change that: {@link SkipRetryException} and any other
 * {@link io.courier.NonRetryableException} archive at once; {@link RetryLaterException} retries
 * without consuming a retry. {@link Error}s count as failures like exceptions; nothing a handler
 * throws kills a worker.
 *
 * <p><b>Cancellation.</b> When the attempt's timeout or the task's deadline passes, or the server
 * shuts down, the handler's thread is interrupted. Handlers should let blocking calls throw
 * {@link InterruptedException} (or check {@link Thread#isInterrupted()}); a handler that ignores
 * the interrupt keeps its thread, but its result is discarded and the task has moved on.
 *
 * <p><b>Threads and repeats.</b> A server calls handlers from up to {@code concurrency} threads at
 * once. Delivery is at-least-once: after a crash or an expired lease a task runs again, so handlers
 * must be idempotent.
 */
@FunctionalInterface
public interface TaskHandler {

    /** Handles the task described by {@code context}. */
    void handle(TaskContext context) throws Exception;
}
