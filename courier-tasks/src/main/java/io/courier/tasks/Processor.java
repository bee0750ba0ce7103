package io.courier.tasks;

import io.courier.Codec;
import io.courier.NonRetryableException;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running half of a server's processor (Asynq's {@code processor.go}): runs each claimed task's
 * handler on a worker thread, cuts an attempt off at its time limit, and settles it: a success goes
 * to {@link Completions}, a failure is decided ({@link #decide}) and written as a retry or an
 * archive. Who settles an attempt first (its handler, its watchdog, the {@link Heartbeater}, shutdown)
 * wins; see {@link Execution}. Thread-safe.
 */
final class Processor {

    private static final Logger log = LoggerFactory.getLogger(Processor.class);

    /** What becomes of a failed attempt. */
    sealed interface Outcome {
        /** Retried at {@code processAt}; {@code countRetry}: consumes a retry; {@code failed}: counted as failed. */
        record Retry(Instant processAt, boolean countRetry, boolean failed) implements Outcome {
        }

        /** Archived; always counted as failed. */
        record Archive() implements Outcome {
        }
    }

    /** The settings a processor runs attempts with. */
    record Settings(TaskHandler handler, RetryDelay retryDelay, Predicate<Throwable> isFailure, Duration defaultTimeout,
                    Duration fallbackRetryDelay, int maxResultBytes, Codec codec) {
    }

    private final TaskStore store;
    private final Settings settings;
    private final Workers workers;
    private final Completions completions;
    private final Counters counters;
    private final Executor handlerThreads;
    private final ScheduledExecutorService watchdogs;
    private final Clock clock;
    private final Consumer<Instant> retryDue;

    /**
     * A processor that runs handlers on {@code handlerThreads}, times them out on {@code watchdogs} and
     * tells {@code retryDue} when each retry it records is due.
     */
    Processor(TaskStore store, Settings settings, Workers workers, Completions completions, Counters counters,
              Executor handlerThreads, ScheduledExecutorService watchdogs, Clock clock, Consumer<Instant> retryDue) {
        this.store = store;
        this.settings = settings;
        this.workers = workers;
        this.completions = completions;
        this.counters = counters;
        this.handlerThreads = handlerThreads;
        this.watchdogs = watchdogs;
        this.clock = clock;
        this.retryDue = retryDue;
    }

    /** Starts an attempt of {@code claimed} in a slot the fetcher took for it. */
    void dispatch(ClaimedTask claimed) {
        TaskInfo info = claimed.info();
        Instant start = clock.instant();
        Instant cutOff = attemptDeadline(info, start);
        Execution e = new Execution(new Lease(info.id(), claimed.leaseToken()), start,
                self -> new TaskContext(info, cutOff, settings.codec(), result -> writeResult(self, result)));
        workers.started(e);
        try {
            handlerThreads.execute(() -> run(e));
        } catch (RuntimeException rejected) {
            // Only while shutting down: give the task back untouched.
            if (e.settle()) {
                requeue(e);
                workers.done(e);
            }
        }
    }

    /**
     * Shutdown: waits until {@code deadlineNanos} ({@link System#nanoTime()}) for running attempts, then
     * interrupts the rest and returns their tasks to PENDING without counting a retry.
     */
    void stop(long deadlineNanos, Duration shutdownTimeout) {
        workers.awaitIdle(deadlineNanos);
        for (Execution e : workers.running()) {
            if (e.settle()) {
                e.interrupt();
                boolean requeued = requeue(e);
                log.info("shutdown: task {} did not finish within {}; {}", e.taskId(), shutdownTimeout,
                        requeued ? "returned to pending" : "its lease had been lost already");
                workers.done(e);
            }
        }
    }

    private boolean requeue(Execution e) {
        try {
            return store.requeue(e.lease);
        } catch (RuntimeException ex) {
            log.warn("could not return task {} to pending; it is recovered when its lease expires", e.taskId(), ex);
            return false;
        }
    }

    /** Writes a handler's result under its attempt's lease; false once the attempt is settled or its lease lost. */
    private boolean writeResult(Execution e, byte[] result) {
        if (result.length > settings.maxResultBytes()) {
            throw new IllegalArgumentException("result of task " + e.taskId() + " must be at most "
                    + settings.maxResultBytes() + " bytes (maxResultBytes), but was " + result.length);
        }
        return !e.isSettled() && store.writeResult(e.lease, result);
    }

    /** The earlier of the attempt's start plus its timeout (or the default) and the task's deadline. */
    Instant attemptDeadline(TaskInfo info, Instant start) {
        Instant byTimeout = info.timeout().map(start::plus)
                .orElseGet(() -> info.deadline().isPresent() ? Instant.MAX : start.plus(settings.defaultTimeout()));
        Instant byDeadline = info.deadline().orElse(Instant.MAX);
        return byTimeout.isBefore(byDeadline) ? byTimeout : byDeadline;
    }

    private void run(Execution e) {
        TaskInfo info = e.info();
        if (info.deadline().isPresent() && !clock.instant().isBefore(info.deadline().get())) {
            if (e.settle()) {
                fail(e, new TaskTimeoutException("deadline " + info.deadline().get()
                        + " passed before the task could start", true));
            }
            return;
        }
        e.begin(Thread.currentThread());
        long delayNanos = Duration.between(clock.instant(), e.context.deadline()).toNanos();
        if (delayNanos < Long.MAX_VALUE / 2) {
            e.watchdog = watchdogs.schedule(() -> timeOut(e), Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
        }
        Throwable failure = null;
        try {
            settings.handler().handle(e.context);
        } catch (Throwable t) {
            failure = t;
        }
        e.end();
        if (!e.settle()) {
            return;   // timed out, lost its lease or was requeued by shutdown meanwhile
        }
        ScheduledFuture<?> w = e.watchdog;
        if (w != null) {
            w.cancel(false);
        }
        if (failure == null) {
            completions.complete(e);
        } else {
            fail(e, failure);
        }
    }

    private void timeOut(Execution e) {
        if (!e.settle()) {
            return;
        }
        e.interrupt();
        TaskInfo info = e.info();
        boolean deadline = info.deadline().isPresent() && !e.context.deadline().isBefore(info.deadline().get());
        String message = deadline
                ? "deadline " + info.deadline().get() + " exceeded; the handler was interrupted"
                : "attempt timed out after " + info.timeout().orElse(settings.defaultTimeout())
                        + "; the handler was interrupted";
        fail(e, new TaskTimeoutException(message, deadline));
    }

    /** Writes the outcome of the settled, failed attempt {@code e} and frees its slot. */
    private void fail(Execution e, Throwable error) {
        TaskInfo info = e.info();
        Instant now = clock.instant();
        String message = TaskServer.describe(error);
        try {
            Outcome outcome = decide(error, info, now);
            boolean applied;
            boolean failed;
            if (outcome instanceof Outcome.Retry retry) {
                applied = store.retry(e.lease, now, retry.processAt(), message, retry.countRetry());
                if (applied) {
                    retryDue.accept(retry.processAt());
                }
                failed = retry.failed();
            } else {
                applied = store.archive(e.lease, now, message);
                failed = true;
            }
            counters.record(info.queue(), clock.instant(), 1, failed ? 1 : 0);
            if (!applied) {
                log.warn("task {} failed but its lease had been lost; the outcome is discarded", info.id());
            } else if (log.isDebugEnabled()) {
                log.debug("task {} ({}) failed: {}", info.id(), info.type(), message);
            }
        } catch (RuntimeException ex) {
            log.error("task {} failed and the failure could not be recorded; it runs again after its lease expires",
                    info.id(), ex);
        } finally {
            workers.done(e);
        }
    }

    /**
     * What becomes of an attempt of {@code info} that failed with {@code error} at {@code now}:
     * {@link RetryLaterException} and errors {@code isFailure} excludes are retried without consuming a
     * retry; {@link NonRetryableException}s and a passed deadline archive; other errors are retried
     * while retries are left, and archive after the last one.
     */
    Outcome decide(Throwable error, TaskInfo info, Instant now) {
        if (error instanceof RetryLaterException later) {
            return new Outcome.Retry(now.plus(later.delay()), false, false);
        }
        if (error instanceof NonRetryableException || error instanceof TaskTimeoutException t && t.deadlineExceeded()) {
            return new Outcome.Archive();
        }
        if (!isFailure(error)) {
            return new Outcome.Retry(now.plus(retryDelay(info.retried() + 1, error, info)), false, false);
        }
        if (info.retried() >= info.maxRetry()) {
            return new Outcome.Archive();
        }
        return new Outcome.Retry(now.plus(retryDelay(info.retried() + 1, error, info)), true, true);
    }

    private boolean isFailure(Throwable error) {
        try {
            return settings.isFailure().test(error);
        } catch (RuntimeException ex) {
            log.warn("the isFailure predicate threw; counting the error as a failure", ex);
            return true;
        }
    }

    private Duration retryDelay(int retry, Throwable error, TaskInfo info) {
        try {
            Duration d = settings.retryDelay().delay(retry, error, info);
            return d == null || d.isNegative() ? Duration.ZERO : d;
        } catch (RuntimeException ex) {
            log.warn("the retry delay function threw; retrying task {} after {}", info.id(),
                    settings.fallbackRetryDelay(), ex);
            return settings.fallbackRetryDelay();
        }
    }
}
