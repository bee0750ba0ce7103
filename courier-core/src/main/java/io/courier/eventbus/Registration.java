package io.courier.eventbus;

/**
 * A handler's subscription to an event bus. {@link #close()} unsubscribes.
 *
 * <p>Thread-safe; {@link #close()} is idempotent.
 */
public interface Registration extends AutoCloseable {

    /** The handler's name, as given or generated. */
    String handlerName();

    /** The event type the handler subscribed to. */
    Class<?> eventType();

    /** True until {@link #close()} is called or the bus is closed. */
    boolean isActive();

    /**
     * Unsubscribes: the handler receives no event whose handling had not started yet. A call already
     * running finishes. See each implementation for what happens to events published later (a
     * transport-backed bus keeps them in the handler's consumer group).
     */
    @Override
    void close();
}
