package io.courier;

import io.courier.internal.HandlerChain;
import io.courier.internal.ObservedPublisher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Routes messages from topics to handlers through middleware, over one {@link Transport}.
 *
 * <pre>{@code
 * try (Router router = Router.builder(transport)
 *         .use(new RecoveryMiddleware())                       // outermost
 *         .use(DeadLetterMiddleware.to(transport.publisher()))
 *         .use(RetryMiddleware.builder().maxAttempts(5).build())
 *         .build()) {
 *     router.route("orders", "billing", OrderPlaced.class, (order, delivery) -> bill(order));
 *     router.start();
 *     router.publish("orders", order.customer(), order).join();   // encoded with the router's codec
 * }
 * }</pre>
 *
 * <p>{@link #publish(String, Object)} and {@link #publish(String, String, Object)} publish a value
 * encoded with the router's {@link #codec() codec}, which is what its typed routes decode;
 * {@link #publisher(Class, Function)} gives a {@link TypedPublisher} that takes each message's key
 * from the value. {@link #publisher()} publishes ready-made {@link Message}s.
 *
 * <p>Middleware added with {@link Builder#use} applies to every route; the first added is the
 * outermost. Route-specific middleware passed to {@link #route(SubscriptionOptions, Handler, Middleware...)}
 * sits inside the router-wide ones. The router checks the middleware chain's contract at run time
 * (see {@link Middleware}) and fails with an exception naming the culprit.
 *
 * <p>Routes added before {@link #start()} subscribe when it is called; routes added afterwards
 * subscribe at once. {@link #close()} closes every subscription gracefully (stop fetching, let
 * in-flight handlers finish within each subscription's shutdown timeout, settle them), in parallel.
 * It does not close the transport, which the caller owns. Thread-safe.
 */
public final class Router implements AutoCloseable {

    private record Route(SubscriptionOptions options, Handler handler) {
    }

    private final Transport transport;
    private final List<Middleware> middleware;
    private final LifecycleListener listener;
    private final Codec codec;
    private final Publisher publisher;
    private final TypedPublisher<Object> valuePublisher;
    private final List<Route> pending = new ArrayList<>();
    private final List<Subscription> subscriptions = new ArrayList<>();
    private boolean started;
    private boolean closed;

    private Router(Builder b) {
        this.transport = b.transport;
        this.middleware = List.copyOf(b.middleware);
        this.listener = b.listener;
        this.codec = b.codec;
        this.publisher = ObservedPublisher.wrap(transport.publisher(), listener);
        this.valuePublisher = publisher(Object.class);
    }

    /** A builder for a router over {@code transport}. */
    public static Builder builder(Transport transport) {
        return new Builder(transport);
    }

    /**
     * The transport's publisher, decorated to report to the router's {@link LifecycleListener} and to
     * stamp the current {@link Correlation} id. It implements {@link DelayedPublisher} when the
     * transport's publisher does.
     */
    public Publisher publisher() {
        return publisher;
    }

    /** The codec typed routes decode with, and {@link #publish(String, Object)} encodes with. */
    public Codec codec() {
        return codec;
    }

    /**
     * Encodes {@code value} with the router's codec and publishes it to {@code topic} without a key,
     * through {@link #publisher()}; a typed route on the topic receives it decoded. The message carries
     * the codec's media type and the value's type name in its headers: see {@link TypedPublisher}.
     *
     * @return a future that completes once the message is durable (see {@link Publisher#publish})
     * @throws NullPointerException if {@code topic} or {@code value} is null
     * @throws CourierException     if the codec cannot encode the value
     */
    public CompletableFuture<PublishResult> publish(String topic, Object value) {
        return valuePublisher.publish(topic, value);
    }

    /**
     * Publishes a ready-made message, as {@code publisher().publish(topic, message)} does; nothing is
     * encoded. (Without this overload, {@link #publish(String, Object)} would encode the message
     * object itself.)
     */
    public CompletableFuture<PublishResult> publish(String topic, Message message) {
        return publisher.publish(topic, Objects.requireNonNull(message, "message"));
    }

    /**
     * Like {@link #publish(String, Object)}, with {@code key} as the message key: messages with one
     * key are handled in publish order on transports with per-key ordering and land in one partition
     * on partitioned ones.
     *
     * @throws NullPointerException if {@code topic}, {@code key} or {@code value} is null
     * @throws CourierException     if the codec cannot encode the value
     */
    public CompletableFuture<PublishResult> publish(String topic, String key, Object value) {
        return valuePublisher.publish(topic, key, value);
    }

    /**
     * A publisher of {@code type} values that sets each message's key to {@code key.apply(value)} (no
     * key when it returns null), e.g. {@code router.publisher(OrderPlaced.class, OrderPlaced::customer)}.
     */
    public <T> TypedPublisher<T> publisher(Class<T> type, Function<? super T, String> key) {
        return new TypedPublisher<>(publisher, codec, Objects.requireNonNull(type, "type"), Objects.requireNonNull(key, "key"), null);
    }

    /** A publisher of {@code type} values, without keys. */
    public <T> TypedPublisher<T> publisher(Class<T> type) {
        return new TypedPublisher<>(publisher, codec, Objects.requireNonNull(type, "type"), null, null);
    }

    /** Routes {@code topic} for {@code group} to {@code handler} with default subscription options. */
    public Router route(String topic, String group, Handler handler) {
        return route(SubscriptionOptions.of(topic, group), handler);
    }

    /**
     * Routes {@code topic} for {@code group} to a typed handler: payloads are decoded with the router's
     * codec; one that cannot be decoded fails with a {@link DecodingException}, which is not retried.
     */
    public <T> Router route(String topic, String group, Class<T> type, TypedHandler<T> handler) {
        return route(SubscriptionOptions.of(topic, group), type, handler);
    }

    /** Routes with explicit options to a typed handler. */
    public <T> Router route(SubscriptionOptions options, Class<T> type, TypedHandler<T> handler, Middleware... routeMiddleware) {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(handler, "handler");
        return route(options, d -> handler.handle(codec.decode(d.message().payload(), type), d), routeMiddleware);
    }

    /**
     * Routes with explicit options; {@code routeMiddleware} wraps only this route, inside the
     * router-wide middleware.
     *
     * @throws IllegalStateException if a middleware's {@code wrap} returns null (the message names it)
     */
    public Router route(SubscriptionOptions options, Handler handler, Middleware... routeMiddleware) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        List<Middleware> chain = new ArrayList<>(middleware);
        chain.addAll(List.of(routeMiddleware));
        Route route = new Route(options, HandlerChain.build(handler, chain, listener));
        synchronized (this) {
            if (closed) {
                throw new TransportClosedException("router is closed");
            }
            if (started) {
                subscriptions.add(transport.subscriber().subscribe(route.options(), route.handler()));
            } else {
                pending.add(route);
            }
        }
        return this;
    }

    /**
     * Subscribes every route added so far; later routes subscribe as they are added. Idempotent.
     * All or nothing: when one route cannot subscribe (bad options, a broker that is down), the
     * routes this call already subscribed are closed again, the router stays unstarted, and the
     * exception propagates, so that {@code start()} can be called again once the cause is fixed.
     */
    public synchronized Router start() {
        if (closed) {
            throw new TransportClosedException("router is closed");
        }
        if (!started) {
            List<Subscription> opened = new ArrayList<>(pending.size());
            try {
                for (Route r : pending) {
                    opened.add(transport.subscriber().subscribe(r.options(), r.handler()));
                }
            } catch (RuntimeException e) {
                for (Subscription s : opened) {
                    try {
                        s.close();
                    } catch (RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
            started = true;
            subscriptions.addAll(opened);
            pending.clear();
        }
        return this;
    }

    /** The subscriptions started so far. */
    public synchronized List<Subscription> subscriptions() {
        return List.copyOf(subscriptions);
    }

    /** Closes every subscription gracefully, in parallel, each within its shutdown timeout. Idempotent. */
    @Override
    public void close() {
        closeAll(Subscription::close);
    }

    /** Closes every subscription, waiting at most {@code timeout} for in-flight handlers. Idempotent. */
    public void close(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        closeAll(s -> s.close(timeout));
    }

    private void closeAll(java.util.function.Consumer<Subscription> closer) {
        List<Subscription> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(subscriptions);
        }
        CompletableFuture.allOf(toClose.stream()
                .map(s -> CompletableFuture.runAsync(() -> closer.accept(s)))
                .toArray(CompletableFuture[]::new)).join();
    }

    /** Builds a {@link Router}. Not thread-safe. */
    public static final class Builder {
        private final Transport transport;
        private final List<Middleware> middleware = new ArrayList<>();
        private LifecycleListener listener = LifecycleListener.NONE;
        private Codec codec = JsonCodec.defaults();

        private Builder(Transport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
        }

        /** Adds router-wide middleware; the first added is the outermost. */
        public Builder use(Middleware m) {
            middleware.add(Objects.requireNonNull(m, "middleware"));
            return this;
        }

        /** The listener that hears lifecycle events (default: none). */
        public Builder listener(LifecycleListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** The codec for typed routes and typed publishing (default: {@link JsonCodec#defaults()}). */
        public Builder codec(Codec codec) {
            this.codec = Objects.requireNonNull(codec, "codec");
            return this;
        }

        /** Builds the router; nothing is subscribed until {@link Router#start()}. */
        public Router build() {
            return new Router(this);
        }
    }
}
