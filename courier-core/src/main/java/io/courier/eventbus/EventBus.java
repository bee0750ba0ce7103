package io.courier.eventbus;

import java.util.concurrent.CompletableFuture;

/**
 * A typed event bus: handlers subscribe to an event class, publishers hand over event objects, and
 * every subscribed handler receives every matching event.
 *
 * <pre>{@code
 * try (EventBus bus = InProcessEventBus.builder().build()) {
 *     bus.subscribe(UserCreated.class, "welcome-email", e -> mailer.sendWelcome(e.email()));
 *     bus.subscribe(UserCreated.class, "profile", e -> profiles.create(e.userId()));
 *     bus.publish(new UserCreated("123", "user@example.com")).join();
 * }
 * }</pre>
 *
 * <p>Two implementations with different guarantees:
 * <ul>
 *   <li>{@link InProcessEventBus}: handlers run in this JVM. Fast, no infrastructure, but an event
 *       whose handlers have not finished is lost if the process dies.</li>
 *   <li>{@link TransportEventBus}: events are published durably through a {@link io.courier.Transport}
 *       and every handler consumes them in its own consumer group, so they survive a crash and a
 *       failing handler is retried (or dead-lettered) on its own.</li>
 * </ul>
 *
 * <p><b>Isolation.</b> Handlers never affect each other: one that throws (an {@link Error}
 * included) or is slow does not stop, skip or delay the others. Failures are never reduced to the
 * first one; each implementation documents where they are reported.
 *
 * <p><b>Matching.</b> Both implementations deliver an event to every handler whose subscribed type
 * is the event's class or one of its supertypes or interfaces ({@code type.isInstance(event)}), so
 * subscribing to {@code Object.class} receives everything.
 *
 * <p><b>Thread safety.</b> Every method is thread-safe. Handlers may be called from several threads
 * at once and must be thread-safe themselves.
 *
 * <p><b>Closing.</b> {@link #close()} stops accepting events and subscriptions, lets handlers in
 * flight finish within the implementation's shutdown timeout, and never closes resources the caller
 * passed in (transports, routers, executors). Idempotent.
 */
public interface EventBus extends AutoCloseable {

    /**
     * Subscribes {@code handler} to events of {@code type} (and its subtypes) under a generated
     * name. See {@link #subscribe(Class, String, EventHandler)}; the generated name is documented by
     * each implementation.
     *
     * @throws NullPointerException             if an argument is null
     * @throws io.courier.TransportClosedException if the bus is closed
     */
    <E> Registration subscribe(Class<E> type, EventHandler<? super E> handler);

    /**
     * Subscribes {@code handler} to events of {@code type} (and its subtypes). The handler name
     * appears in failure reports and logs, and must be unique among the bus's active subscriptions;
     * a transport-backed bus also derives the handler's consumer group from it, so it must stay
     * stable across restarts. Events published after this method returns reach the handler.
     *
     * @return the registration; {@link Registration#close()} unsubscribes
     * @throws NullPointerException             if an argument is null
     * @throws IllegalArgumentException         if the name is blank, too long or already in use
     * @throws io.courier.TransportClosedException if the bus is closed
     */
    <E> Registration subscribe(Class<E> type, String handlerName, EventHandler<? super E> handler);

    /**
     * Publishes {@code event} to every handler subscribed to its class or a supertype.
     *
     * <p>The future's meaning depends on the implementation and is the heart of its contract:
     * <ul>
     *   <li>{@link InProcessEventBus}: completes when every matching handler has finished; normally
     *       if all of them returned, exceptionally with an {@link EventDispatchException} listing
     *       every handler that failed otherwise.</li>
     *   <li>{@link TransportEventBus}: completes when the event is durable in the transport (not
     *       when it is handled, which happens later, possibly in other processes); exceptionally
     *       with a {@link io.courier.PublishException} (or an encoding {@link io.courier.CourierException})
     *       if it could not be stored.</li>
     * </ul>
     *
     * <p>This method does not throw except for a null event: every other failure, a closed bus
     * included ({@link io.courier.TransportClosedException}), completes the future exceptionally.
     *
     * @throws NullPointerException if {@code event} is null
     */
    CompletableFuture<Void> publish(Object event);

    /**
     * Stops accepting events and subscriptions, lets in-flight handlers finish within the shutdown
     * timeout and releases what the bus itself created. Idempotent.
     */
    @Override
    void close();
}
