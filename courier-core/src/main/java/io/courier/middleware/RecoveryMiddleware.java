package io.courier.middleware;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Middleware;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outermost safety net: whatever the chain inside throws ends up as an ordinary, logged
 * {@link Exception} that the transport settles as a failed attempt. Nothing is swallowed.
 *
 * <ul>
 *   <li>An {@link Error} ({@link StackOverflowError}, {@link AssertionError},
 *       {@link NoClassDefFoundError}, ...) or other non-{@link Exception} throwable is converted to a
 *       {@link HandlerFailedException} with the original as its cause, logged once at ERROR level with
 *       its stack trace, and thrown. It never reaches (let alone kills) a consumer loop.</li>
 *   <li>An {@link Exception} is logged once at WARN level and rethrown unchanged; an
 *       {@link InterruptedException} (shutdown) is rethrown without logging.</li>
 *   <li>A normal return passes through untouched.</li>
 * </ul>
 *
 * <p>Add it first so it is outermost: {@code Router.builder(t).use(new RecoveryMiddleware()).use(...)}.
 * The {@link DeadLetterMiddleware} and {@link RetryMiddleware} inside it handle {@link Error}s like
 * any other failure, so what reaches this middleware is a failure nothing else settled (for
 * instance a dead-letter publish that failed). Immutable and thread-safe.
 */
public final class RecoveryMiddleware implements Middleware {

    private static final Logger log = LoggerFactory.getLogger(RecoveryMiddleware.class);

    /** A recovery middleware; it has no settings. */
    public RecoveryMiddleware() {
    }

    @Override
    public Handler wrap(Handler next) {
        Objects.requireNonNull(next, "next");
        return delivery -> {
            try {
                next.handle(delivery);
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                log.warn("handler for {} failed", Failures.describe(delivery), e);
                throw e;
            } catch (Throwable t) {
                throw convert(delivery, t);
            }
        };
    }

    private static HandlerFailedException convert(Delivery delivery, Throwable t) {
        HandlerFailedException e = new HandlerFailedException(delivery.message().id(),
                "handler for " + Failures.describe(delivery) + " failed with " + t, t);
        log.error("{}", e.getMessage(), t);
        return e;
    }
}
