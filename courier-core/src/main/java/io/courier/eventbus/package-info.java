/**
 * A typed event bus: subscribe handlers by event class, publish event objects, every matching
 * handler receives every event.
 *
 * <p>{@link io.courier.eventbus.EventBus} is the contract; {@link io.courier.eventbus.InProcessEventBus}
 * runs handlers in this JVM (synchronously, or concurrently on a bounded executor so slow handlers
 * never block publishers), {@link io.courier.eventbus.TransportEventBus} publishes events durably
 * through any {@link io.courier.Transport} and gives each handler its own consumer group, so events
 * survive crashes and failing handlers are retried or dead-lettered alone.
 *
 * <p>Unlike a naive event bus, handlers are isolated from each other (a throwing handler, even
 * one throwing an {@link java.lang.Error}, does not affect the others) and every failure is
 * reported, in an {@link io.courier.eventbus.EventDispatchException}, not only the first.
 * See {@code docs/eventbus.md}.
 */
package io.courier.eventbus;
