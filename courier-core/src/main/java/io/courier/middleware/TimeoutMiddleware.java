package io.courier.middleware;

import io.courier.Correlation;
import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Middleware;
import io.courier.spi.ConsumerThreads;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Bounds how long a handler may run. The rest of the chain runs on a thread of its own (a virtual
 * thread when the runtime has them, see {@link ConsumerThreads}); if it has not finished within the
 * timeout, that thread is interrupted and the middleware throws a {@link HandlerTimeoutException}
 * naming the message and the limit. The attempt then counts as failed, so a {@link RetryMiddleware}
 * outside this one retries it and a {@link DeadLetterMiddleware} eventually stores it.
 *
 * <pre>{@code
 * router.use(new TimeoutMiddleware(Duration.ofSeconds(30)));
 * }</pre>
 *
 * <p>After interrupting the handler the middleware waits up to an <em>interrupt grace</em> (default
 * {@link #DEFAULT_INTERRUPT_GRACE 1 s}; see {@link #TimeoutMiddleware(Duration, Duration)}) for it to
 * end, so that its clean-up (a rolled-back transaction, a released idempotency claim) is finished
 * before the failure is retried or dead-lettered. A handler that reacts to the interrupt ends at
 * once and costs nothing extra. Java cannot stop a thread that ignores interrupts: a handler blocked
 * in non-interruptible I/O keeps running in the background after the grace, and may overlap with the
 * retry of its message (with an in-place {@link RetryMiddleware} the router then rejects the
 * overlapping call, see {@link io.courier.Middleware}). Handlers should use interruptible waits and
 * I/O timeouts of their own.
 *
 * <p>The current {@link Correlation} id is carried over to the handler's thread; other thread-locals
 * are not, so put middleware that binds thread-locals inside this one. If the consumer thread is
 * interrupted while waiting (shutdown), the handler is interrupted too and an
 * {@link InterruptedException} is thrown. Whatever else the handler throws is rethrown unchanged.
 *
 * <p>Immutable and thread-safe. Each call starts one thread; no pool needs closing.
 */
public final class TimeoutMiddleware implements Middleware {

    /** Default time an interrupted handler is given to end before the timeout is reported: 1 second. */
    public static final Duration DEFAULT_INTERRUPT_GRACE = Duration.ofSeconds(1);

    private final Duration timeout;
    private final Duration interruptGrace;
    private final ThreadFactory threads = ConsumerThreads.factory("courier-timeout");

    /**
     * Fails handlers that run longer than {@code timeout}, giving an interrupted handler
     * {@link #DEFAULT_INTERRUPT_GRACE} to end.
     *
     * @throws IllegalArgumentException if {@code timeout} is not positive
     */
    public TimeoutMiddleware(Duration timeout) {
        this(timeout, DEFAULT_INTERRUPT_GRACE);
    }

    /**
     * Fails handlers that run longer than {@code timeout}; after interrupting one, waits at most
     * {@code interruptGrace} for it to end (so its clean-up finishes before the failure is handled).
     * Zero reports the timeout at once.
     *
     * @throws IllegalArgumentException if {@code timeout} is not positive or {@code interruptGrace} is negative
     */
    public TimeoutMiddleware(Duration timeout, Duration interruptGrace) {
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(interruptGrace, "interruptGrace");
        if (timeout.isZero() || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must be > 0, but was " + timeout);
        }
        if (interruptGrace.isNegative()) {
            throw new IllegalArgumentException("interruptGrace must be >= 0, but was " + interruptGrace);
        }
        this.timeout = timeout;
        this.interruptGrace = interruptGrace;
    }

    /** The time limit per handler call. */
    public Duration timeout() {
        return timeout;
    }

    /** How long an interrupted handler is given to end before the timeout is reported. */
    public Duration interruptGrace() {
        return interruptGrace;
    }

    @Override
    public Handler wrap(Handler next) {
        Objects.requireNonNull(next, "next");
        return delivery -> handleWithin(next, delivery);
    }

    private void handleWithin(Handler next, Delivery delivery) throws Exception {
        Optional<String> correlationId = Correlation.current();
        FutureTask<Void> task = new FutureTask<>(() -> {
            if (correlationId.isPresent()) {
                return Correlation.callWith(correlationId.get(), () -> {
                    next.handle(delivery);
                    return null;
                });
            }
            next.handle(delivery);
            return null;
        });
        Thread worker = threads.newThread(task);
        worker.start();
        try {
            task.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw rethrowable(e.getCause(), delivery);
        } catch (TimeoutException e) {
            if (!task.cancel(true)) {
                reportFinished(task, delivery);   // it finished just as the time ran out
                return;
            }
            boolean stillRunning = !awaitEnd(worker);
            throw new HandlerTimeoutException(delivery.message().id(), timeout, "handler for " + Failures.describe(delivery)
                    + " did not finish within " + timeout + "; its thread was interrupted"
                    + (stillRunning && !interruptGrace.isZero() ? " but was still running " + interruptGrace + " later" : ""));
        } catch (InterruptedException e) {
            task.cancel(true);
            throw e;
        }
    }

    private boolean awaitEnd(Thread worker) throws InterruptedException {
        if (interruptGrace.isZero()) {
            return !worker.isAlive();
        }
        long nanos = interruptGrace.toNanos();
        worker.join(nanos / 1_000_000, (int) (nanos % 1_000_000));
        return !worker.isAlive();
    }

    private static void reportFinished(FutureTask<Void> task, Delivery delivery) throws Exception {
        try {
            task.get();
        } catch (ExecutionException e) {
            throw rethrowable(e.getCause(), delivery);
        }
    }

    private static Exception rethrowable(Throwable cause, Delivery delivery) {
        if (cause instanceof Exception e) {
            return e;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new HandlerFailedException(delivery.message().id(), "handler for " + Failures.describe(delivery)
                + " failed with " + cause, cause);
    }

    @Override
    public String toString() {
        return "TimeoutMiddleware{timeout=" + timeout + ", interruptGrace=" + interruptGrace + '}';
    }
}
