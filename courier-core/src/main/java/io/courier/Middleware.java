package io.courier;

/**
 * Wraps a handler with behaviour that runs around it: retry, dead-lettering, timeouts,
 * idempotency, recovery, correlation. The one shape every middleware has.
 *
 * <p>In a {@link Router} the first middleware added is the outermost: with {@code use(a).use(b)} a
 * delivery passes through {@code a}, then {@code b}, then the handler. The router checks the
 * chain's contract at run time and fails with an exception naming the middleware that broke it:
 * {@code wrap} must not return null, and {@code next} must not be called after the wrapping handler
 * has returned, nor twice at the same time for one delivery. Calling {@code next} several times in
 * sequence is allowed (ordered in-place retry does that).
 */
@FunctionalInterface
public interface Middleware {

    /** Returns a handler that does this middleware's work around {@code next}. Called once per route. */
    Handler wrap(Handler next);

    /** A name for error messages and logs; the class's simple name by default. */
    default String name() {
        String simple = getClass().getSimpleName();
        return simple.isEmpty() ? getClass().getName() : simple;
    }
}
