package io.courier.tasks;

/**
 * Wraps a task handler with behaviour that runs around it (logging, metrics, tracing, idempotency,
 * error translation). The same shape as the message router's {@link io.courier.Middleware}:
 * {@code TaskHandler wrap(TaskHandler next)}.
 *
 * <p>In a {@link TaskMux} the first middleware added is the outermost: with {@code use(a).use(b)} a
 * task passes through {@code a}, then {@code b}, then the handler. {@code wrap} is called once per
 * registered handler when the mux is built and must not return null (the mux fails naming the
 * middleware if it does). A middleware decides the outcome by returning or throwing, exactly like a
 * handler.
 */
@FunctionalInterface
public interface TaskMiddleware {

    /** Returns a handler that does this middleware's work around {@code next}. */
    TaskHandler wrap(TaskHandler next);

    /** A name for error messages and logs; the class's simple name by default. */
    default String name() {
        String simple = getClass().getSimpleName();
        return simple.isEmpty() ? getClass().getName() : simple;
    }
}
