package io.courier.eventbus;

/**
 * Handles one event of type {@code E}.
 *
 * <p>Returning normally means the event was handled. Throwing anything, an {@link Error} included,
 * means it failed; the failure is reported (see {@link EventBus#publish(Object)}) and never reaches
 * the other handlers of the same event. On a {@link TransportEventBus} a failed event is delivered
 * again to this handler only, so handlers there must be idempotent (delivery is at-least-once).
 *
 * <p>Handlers may be called from several threads at once and must be thread-safe.
 *
 * @param <E> the event type
 */
@FunctionalInterface
public interface EventHandler<E> {

    /** Handles {@code event}; throw to report failure. */
    void handle(E event) throws Exception;
}
