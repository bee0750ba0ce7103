package io.courier.eventbus;

import io.courier.Codec;
import io.courier.CourierException;
import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Message;
import io.courier.Publisher;
import io.courier.Router;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportClosedException;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link EventBus} whose events travel through a {@link Transport}: published durably to one
 * topic, and consumed by each handler in a consumer group of its own.
 *
 * <pre>{@code
 * Router router = Router.builder(transport)
 *         .use(DeadLetterMiddleware.to(transport.publisher()))
 *         .use(RetryMiddleware.builder().maxAttempts(5).build())
 *         .build();
 * try (TransportEventBus bus = TransportEventBus.builder(router, "billing")   // the service name
 *         .register("order.created", OrderCreated.class)
 *         .build()) {
 *     bus.subscribe(OrderCreated.class, "invoice", e -> invoices.create(e));     // group billing.invoice
 *     bus.subscribe(OrderCreated.class, "audit", e -> audit.record(e));          // group billing.audit
 *     router.start();
 *     bus.publish(new OrderCreated("o-42", 99.5)).join();   // durable once this returns
 * }
 * }</pre>
 *
 * <p><b>Publishing.</b> {@link #publish} encodes the event with the codec and publishes it to the
 * topic (default {@value #DEFAULT_TOPIC}) through the router's publisher, with its type name in the
 * {@link Headers#EVENT_TYPE} header ({@code ce-type}), the codec's media type in
 * {@link Headers#CONTENT_TYPE} and the service name in {@link Headers#EVENT_SOURCE}. The future
 * completes when the transport has made the event durable, not when it has been handled: handling
 * happens later, possibly in other processes, and its failures are dealt with there (retries and
 * dead letters), never reported back to the publisher. {@link #toMessage} gives the same message
 * for publishing through another path, e.g. a transactional outbox.
 *
 * <p><b>Type names.</b> An explicit registry maps names to classes
 * ({@link Builder#register register("order.created", OrderCreated.class)}); a class that was not
 * registered is published and received under its simple name, registered on first use (a second
 * class with the same simple name is then rejected: register one of them explicitly). Decoding
 * never trusts type information in the payload.
 *
 * <p><b>Handlers.</b> Each handler gets its own consumer group, {@code <service>.<handlerName>}, on
 * the topic. Every group receives every event, so each handler is acknowledged, retried and
 * dead-lettered on its own: a failing handler is redelivered the event without re-running the
 * handlers that already succeeded, and another service (another {@code service} name) receives
 * every event too. A handler receives the events whose type resolves to a class assignable to its
 * subscribed type; its group acknowledges the others without calling it. Messages whose type cannot
 * be resolved follow the {@link UnknownEventTypePolicy} (default: non-retryable failure, so the
 * router's dead-letter middleware stores them). A payload that cannot be decoded fails with a
 * non-retryable {@link io.courier.DecodingException}. Whatever else a handler throws reaches the
 * router's middleware unchanged.
 *
 * <p><b>Durability.</b> Events sit in the transport until every group has handled them, so they
 * survive a crash of publisher or consumer (as far as the transport itself is durable: the
 * in-memory transport is not). New groups start at {@link StartPosition#EARLIEST}: a handler
 * subscribed for the first time receives the events published before, and a handler that was down
 * receives what it missed. Delivery is at-least-once, so handlers should be idempotent. There is no
 * ordering between handlers, nor, with a subscription concurrency above one, between events.
 *
 * <p><b>Lifecycle.</b> Subscriptions go through {@link Router#route}, so they start when the router
 * starts, or at once if it has started already: subscribing after start works. A bus built over a
 * {@link Transport} owns a router that it starts at once and closes with the bus. {@link #close()}
 * closes the bus's subscriptions gracefully; it never closes a router or transport passed in.
 * Thread-safe.
 */
public final class TransportEventBus implements EventBus {

    private static final Logger log = LoggerFactory.getLogger(TransportEventBus.class);

    /** The default topic. */
    public static final String DEFAULT_TOPIC = "events";

    private final Router router;
    private final boolean ownsRouter;
    private final Publisher publisher;
    private final String service;
    private final String topic;
    private final Codec codec;
    private final EventTypeRegistry types;
    private final Set<String> ignoredTypes;
    private final UnknownEventTypePolicy unknownTypePolicy;
    private final UnaryOperator<SubscriptionOptions.Builder> subscriptionOptions;
    private final List<KeyFunction<?>> keyFunctions;
    private final Map<String, HandlerRegistration> registrations = new LinkedHashMap<>();
    private final Set<String> unknownTypesSeen = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<HandlerRegistration> handling = new ThreadLocal<>();
    private volatile boolean closed;

    private TransportEventBus(Builder b, Router router, boolean ownsRouter) {
        this.router = router;
        this.ownsRouter = ownsRouter;
        this.publisher = router.publisher();
        this.service = b.service;
        this.topic = b.topic;
        this.codec = b.codec != null ? b.codec : router.codec();
        this.types = b.types;
        this.ignoredTypes = Set.copyOf(b.ignoredTypes);
        this.unknownTypePolicy = b.unknownTypePolicy;
        this.subscriptionOptions = b.subscriptionOptions;
        this.keyFunctions = List.copyOf(b.keyFunctions);
    }

    /**
     * A builder for a bus over {@code router} (which supplies the publisher, the middleware and, by
     * default, the codec), for the service named {@code service}. The bus never starts or closes
     * the router.
     *
     * @param service names this service's consumer groups ({@code <service>.<handlerName>}) and is
     *                written as the events' {@link Headers#EVENT_SOURCE}; keep it stable across restarts
     */
    public static Builder builder(Router router, String service) {
        return new Builder(Objects.requireNonNull(router, "router"), null, service);
    }

    /**
     * A builder for a bus over {@code transport} with a router of its own, without middleware, started
     * when the bus is built and closed with it. Without retry and dead-letter middleware a failing
     * handler is redelivered after each subscription's failure redelivery delay until it succeeds;
     * pass a configured {@link Router} to {@link #builder(Router, String)} instead to bound that.
     */
    public static Builder builder(Transport transport, String service) {
        return new Builder(null, Objects.requireNonNull(transport, "transport"), service);
    }

    /** The service name. */
    public String service() {
        return service;
    }

    /** The topic events are published to and consumed from. */
    public String topic() {
        return topic;
    }

    /** The consumer group a handler named {@code handlerName} consumes in: {@code <service>.<handlerName>}. */
    public String groupFor(String handlerName) {
        return service + "." + HandlerNames.requireValid(handlerName);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The generated name is the event type's name (registered, or the class's simple name), so the
     * group is {@code <service>.<typeName>}; a second unnamed handler for the same type is rejected
     * because it would share (and compete in) that group: name it.
     */
    @Override
    public <E> Registration subscribe(Class<E> type, EventHandler<? super E> handler) {
        Objects.requireNonNull(type, "type");
        return subscribe(type, types.registeredName(type).orElseGet(() -> HandlerNames.simpleName(type)), handler);
    }

    /**
     * {@inheritDoc}
     *
     * <p>On this bus the handler consumes in group {@link #groupFor groupFor(handlerName)}, starting
     * at {@link StartPosition#EARLIEST} when the group is new (unless the
     * {@linkplain Builder#subscriptionOptions subscription options} say otherwise). A concrete
     * {@code type} is registered under its simple name if it has no name yet.
     *
     * <p>{@link Registration#close()} closes the handler's subscription gracefully; its group stays
     * in the transport, so events published while it is unsubscribed wait for it and are delivered
     * when a handler with the same name subscribes again. If the router has not started yet, the
     * subscription closes on its first delivery instead, leaving that event to the group.
     */
    @Override
    public <E> Registration subscribe(Class<E> type, String handlerName, EventHandler<? super E> handler) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(handler, "handler");
        String group = groupFor(handlerName);
        if (!type.isInterface() && !Modifier.isAbstract(type.getModifiers()) && !type.isPrimitive() && !type.isArray()) {
            types.nameFor(type);
        }
        SubscriptionOptions options = subscriptionOptions
                .apply(SubscriptionOptions.builder(topic, group).startPosition(StartPosition.EARLIEST))
                .build();
        if (!options.topic().equals(topic) || !options.group().equals(group)) {
            throw new IllegalStateException("subscriptionOptions must keep topic '" + topic + "' and group '"
                    + group + "', but gave " + options.topic() + "/" + options.group());
        }
        @SuppressWarnings("unchecked")
        HandlerRegistration registration = new HandlerRegistration(handlerName, type, options, (EventHandler<Object>) handler);
        synchronized (this) {
            if (closed) {
                throw new TransportClosedException("event bus is closed");
            }
            HandlerRegistration existing = registrations.get(handlerName);
            if (existing != null) {
                throw new IllegalArgumentException("handlerName must be unique, but '" + handlerName
                        + "' is already subscribed (to " + existing.type.getName() + ", group " + group
                        + "); pass another name");
            }
            registrations.put(handlerName, registration);
            try {
                router.route(options, registration::handle);
            } catch (RuntimeException e) {
                registrations.remove(handlerName);
                throw e;
            }
        }
        return registration;
    }

    /**
     * {@inheritDoc}
     *
     * <p>On this bus the future completes when the transport has made the event durable (normally),
     * or exceptionally with a {@link io.courier.PublishException}, an encoding
     * {@link CourierException}, an {@link IllegalArgumentException} for a type name clash, or a
     * {@link TransportClosedException}. It says nothing about handling.
     */
    @Override
    public CompletableFuture<Void> publish(Object event) {
        Objects.requireNonNull(event, "event");
        try {
            if (closed) {
                throw new TransportClosedException("event bus is closed");
            }
            return publisher.publish(topic, toMessage(event)).thenApply(result -> null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * The message {@link #publish} would send for {@code event}: the encoded payload with the type,
     * content-type and source headers, and the key when a {@linkplain Builder#key key function}
     * applies. Publish it to {@link #topic()} through any path (an outbox, a batch) and this bus's
     * handlers receive it like a published event.
     *
     * @throws IllegalArgumentException if the event's class has no name and its simple name is taken
     * @throws CourierException         if the codec cannot encode the event
     */
    public Message toMessage(Object event) {
        Objects.requireNonNull(event, "event");
        Message.Builder message = Message.builder()
                .payload(codec.encode(event))
                .header(Headers.EVENT_TYPE, types.nameFor(event.getClass()))
                .header(Headers.CONTENT_TYPE, codec.contentType())
                .header(Headers.EVENT_SOURCE, service);
        for (KeyFunction<?> keyFunction : keyFunctions) {
            Optional<String> key = keyFunction.keyOf(event);
            if (key.isPresent()) {
                message.key(key.get());
                break;
            }
        }
        return message.build();
    }

    /**
     * Closes the bus's subscriptions gracefully, in parallel (each waits for its handlers in flight
     * within its shutdown timeout), and the router if the bus created it. Events not yet handled stay
     * in the transport for the handlers' groups. Idempotent.
     */
    @Override
    public void close() {
        List<HandlerRegistration> open;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            open = new ArrayList<>(registrations.values());
        }
        CompletableFuture.allOf(open.stream()
                .map(r -> CompletableFuture.runAsync(r::close))
                .toArray(CompletableFuture[]::new)).join();
        if (ownsRouter) {
            router.close();
        }
    }

    /** One subscribed handler: the route's handler and the registration the caller holds. */
    private final class HandlerRegistration implements Registration {
        final String name;
        final Class<?> type;
        final SubscriptionOptions options;
        final EventHandler<Object> handler;
        volatile boolean active = true;

        HandlerRegistration(String name, Class<?> type, SubscriptionOptions options, EventHandler<Object> handler) {
            this.name = name;
            this.type = type;
            this.options = options;
            this.handler = handler;
        }

        /** The route handler: resolves the type, filters, decodes, calls the event handler. */
        void handle(Delivery delivery) throws Exception {
            if (!active) {
                // The router started after this registration was closed: stop the subscription and
                // leave the event to the group instead of acknowledging it.
                CompletableFuture.runAsync(this::closeSubscription);
                throw new CourierException("handler '" + name + "' was unsubscribed; message "
                        + delivery.message().id() + " stays in group " + options.group());
            }
            Message message = delivery.message();
            String typeName = message.header(Headers.EVENT_TYPE).orElse(null);
            Optional<Class<?>> eventClass = typeName == null ? Optional.empty() : types.classFor(typeName);
            if (eventClass.isEmpty()) {
                if (typeName != null && ignoredTypes.contains(typeName)) {
                    return;
                }
                unknownType(typeName, delivery);
                return;
            }
            if (!type.isAssignableFrom(eventClass.get())) {
                return;   // a known event this handler did not subscribe to
            }
            Object event = codec.decode(message.payload(), eventClass.get());
            HandlerRegistration previous = handling.get();
            handling.set(this);
            try {
                handler.handle(event);
            } finally {
                if (previous == null) {
                    handling.remove();
                } else {
                    handling.set(previous);
                }
            }
        }

        private void unknownType(String typeName, Delivery delivery) {
            String description = (typeName == null ? "no " + Headers.EVENT_TYPE + " header" : "unknown event type '" + typeName + "'")
                    + " in message " + delivery.message().id() + " on topic " + delivery.topic()
                    + " (group " + delivery.group() + ")";
            if (unknownTypePolicy == UnknownEventTypePolicy.IGNORE) {
                if (unknownTypesSeen.add(String.valueOf(typeName))) {
                    log.warn("{}: acknowledged without handling (policy IGNORE); further messages of this type are logged at DEBUG", description);
                } else {
                    log.debug("{}: acknowledged without handling (policy IGNORE)", description);
                }
                return;
            }
            log.warn("{}: failing it as non-retryable (policy DEAD_LETTER)", description);
            throw new UnknownEventTypeException(typeName, description
                    + "; register the type with TransportEventBus.Builder.register(name, class) or ignoreTypes(name)");
        }

        @Override
        public String handlerName() {
            return name;
        }

        @Override
        public Class<?> eventType() {
            return type;
        }

        @Override
        public boolean isActive() {
            return active;
        }

        @Override
        public void close() {
            synchronized (TransportEventBus.this) {
                if (!active) {
                    return;
                }
                active = false;
                registrations.remove(name, this);
            }
            if (handling.get() == this) {
                // Closed from inside its own handler: a graceful close would wait for this very call.
                CompletableFuture.runAsync(this::closeSubscription);
            } else {
                closeSubscription();
            }
        }

        private void closeSubscription() {
            findSubscription().ifPresent(Subscription::close);
        }

        private Optional<Subscription> findSubscription() {
            List<Subscription> started = router.subscriptions();
            for (Subscription s : started) {
                if (s.options() == options) {
                    return Optional.of(s);
                }
            }
            return started.stream().filter(s -> s.options().equals(options)).findFirst();
        }

        @Override
        public String toString() {
            return "Registration{" + name + " <- " + type.getName() + ", group " + options.group()
                    + (active ? "" : ", closed") + '}';
        }
    }

    /** A key function for events of one type. */
    private record KeyFunction<E>(Class<E> type, Function<? super E, String> function) {
        Optional<String> keyOf(Object event) {
            return type.isInstance(event) ? Optional.ofNullable(function.apply(type.cast(event))) : Optional.empty();
        }
    }

    /** Builds a {@link TransportEventBus}. Not thread-safe. */
    public static final class Builder {
        private final Router router;
        private final Transport transport;
        private final String service;
        private String topic = DEFAULT_TOPIC;
        private Codec codec;
        private final EventTypeRegistry types = new EventTypeRegistry();
        private final Set<String> ignoredTypes = new java.util.HashSet<>();
        private UnknownEventTypePolicy unknownTypePolicy = UnknownEventTypePolicy.DEAD_LETTER;
        private UnaryOperator<SubscriptionOptions.Builder> subscriptionOptions = UnaryOperator.identity();
        private final List<KeyFunction<?>> keyFunctions = new ArrayList<>();

        private Builder(Router router, Transport transport, String service) {
            this.router = router;
            this.transport = transport;
            Objects.requireNonNull(service, "service");
            if (service.isBlank()) {
                throw new IllegalArgumentException("service must not be blank");
            }
            if (service.length() > 40) {
                throw new IllegalArgumentException("service must be at most 40 characters, but was " + service.length());
            }
            this.service = service;
        }

        /** The topic events are published to and consumed from (default {@value #DEFAULT_TOPIC}). */
        public Builder topic(String topic) {
            Objects.requireNonNull(topic, "topic");
            if (topic.isBlank()) {
                throw new IllegalArgumentException("topic must not be blank");
            }
            this.topic = topic;
            return this;
        }

        /**
         * The codec for payloads (default: the router's codec, which defaults to
         * {@link io.courier.JsonCodec}). Publishers and consumers of a topic must agree on it.
         */
        public Builder codec(Codec codec) {
            this.codec = Objects.requireNonNull(codec, "codec");
            return this;
        }

        /**
         * Maps the type name {@code name} (written in the {@link Headers#EVENT_TYPE} header) to
         * {@code type}, both ways.
         *
         * @throws IllegalArgumentException if the name or the class is already mapped differently
         */
        public Builder register(String name, Class<?> type) {
            types.register(name, type);
            return this;
        }

        /**
         * Declares type names that may appear on the topic but that this service does not consume:
         * their messages are acknowledged silently whatever the {@link UnknownEventTypePolicy}.
         */
        public Builder ignoreTypes(String... typeNames) {
            for (String name : typeNames) {
                ignoredTypes.add(Objects.requireNonNull(name, "type name"));
            }
            return this;
        }

        /** What to do with messages of an unknown type (default {@link UnknownEventTypePolicy#DEAD_LETTER}). */
        public Builder unknownTypePolicy(UnknownEventTypePolicy policy) {
            this.unknownTypePolicy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Adjusts the options of every handler subscription, e.g.
         * {@code o -> o.concurrency(1).failureRedeliveryDelay(Duration.ofSeconds(5))}. The builder it
         * receives already holds the topic, the handler's group and {@link StartPosition#EARLIEST}.
         */
        public Builder subscriptionOptions(UnaryOperator<SubscriptionOptions.Builder> customizer) {
            this.subscriptionOptions = Objects.requireNonNull(customizer, "customizer");
            return this;
        }

        /**
         * Sets the message key of events of {@code type} (and subtypes) to {@code key.apply(event)},
         * so transports that partition by key keep one entity's events in order. The first matching
         * function, in the order added, that returns a non-null key wins. A function that returns an
         * empty key fails the publish with an IllegalArgumentException (return null for no key).
         */
        public <E> Builder key(Class<E> type, Function<? super E, String> key) {
            keyFunctions.add(new KeyFunction<>(Objects.requireNonNull(type, "type"), Objects.requireNonNull(key, "key")));
            return this;
        }

        /** Builds the bus; over a transport, creates and starts its router. */
        public TransportEventBus build() {
            if (router != null) {
                return new TransportEventBus(this, router, false);
            }
            Router own = Router.builder(transport).build();
            own.start();
            return new TransportEventBus(this, own, true);
        }
    }
}
