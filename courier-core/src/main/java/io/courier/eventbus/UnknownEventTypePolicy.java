package io.courier.eventbus;

/**
 * What a {@link TransportEventBus} handler subscription does with a message whose event type it
 * cannot resolve: the {@link io.courier.Headers#EVENT_TYPE} header is missing, or names a type that
 * was neither {@linkplain TransportEventBus.Builder#register registered}, subscribed to, published
 * by this bus, nor {@linkplain TransportEventBus.Builder#ignoreTypes declared as ignored}.
 *
 * <p>Events of a <em>known</em> type that a handler did not subscribe to are always acknowledged
 * silently by that handler's group: they are simply not for it.
 */
public enum UnknownEventTypePolicy {

    /**
     * Fail with an {@link UnknownEventTypeException}, a non-retryable error: with a
     * {@link io.courier.middleware.DeadLetterMiddleware} in the router the message goes to the
     * dead-letter topic at once, where it can be inspected and replayed once the type is registered.
     * Without one it is redelivered after the subscription's failure redelivery delay, again and
     * again. Nothing is lost silently. The default.
     */
    DEAD_LETTER,

    /**
     * Acknowledge the message without calling the handler and log a WARN the first time each
     * unknown type name is seen (DEBUG afterwards). For topics shared with services that publish
     * types this one never consumes; the handler's group loses those messages by design.
     */
    IGNORE
}
