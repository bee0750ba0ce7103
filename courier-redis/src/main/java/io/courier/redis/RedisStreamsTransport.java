package io.courier.redis;

import io.courier.DelayedPublisher;
import io.courier.Handler;
import io.courier.KeyOrderedSubscriber;
import io.courier.Subscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportClosedException;
import io.courier.redis.internal.Keys;
import io.courier.redis.internal.RedisContext;
import io.lettuce.core.api.StatefulRedisConnection;
import io.courier.redis.internal.RedisPublisher;
import io.courier.redis.internal.RedisSubscription;
import io.courier.spi.Payloads;
import io.courier.spi.SubscriptionChecks;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link Transport} over Redis Streams (Redis 6.2 or later), built on the Lettuce client.
 *
 * <p>Each topic is one stream; each consumer group of Courier is a Redis consumer group on it, so
 * every group receives every message and the consumers of one group compete. Publishing is an
 * {@code XADD} (the future completes on Redis's reply); a subscription reads with
 * {@code XREADGROUP}, acknowledges with {@code XACK} after the handler returned, reclaims entries
 * whose consumer died ({@code XAUTOCLAIM} after the {@linkplain SubscriptionOptions#leaseTimeout()
 * lease}), and dead-letters an entry to {@code <topic>.dlq} once it was delivered
 * {@link RedisConfig#maxDeliveries()} times. Delayed messages and retries wait in sorted sets and
 * are moved onto the streams by an atomic Lua script when due. The publisher is a
 * {@link DelayedPublisher}. With {@link RedisConfig.Builder#keyOrdering(boolean) keyOrdering(true)}
 * the subscriber is a {@link KeyOrderedSubscriber}: each group records the delivered entries of
 * every message key in a Redis list and hands an entry to a handler only while it is the first of
 * its key (see {@code docs/transports/redis.md}, "Per-key ordering").
 *
 * <pre>{@code
 * try (RedisStreamsTransport redis = RedisStreamsTransport.create(
 *         RedisConfig.builder().uri("redis://127.0.0.1:6379").build())) {
 *     redis.subscriber().subscribe("orders", "billing", d -> bill(d.message()));
 *     redis.publisher().publish("orders", Message.ofText("{\"id\":42}")).join();
 *     redis.publisher().publishAfter("orders", Message.ofText("later"), Duration.ofMinutes(5)).join();
 * }
 * }</pre>
 *
 * <p><b>Durability.</b> An acknowledged publish is in Redis's memory; whether it survives a Redis
 * crash depends on the server's persistence ({@code appendonly yes} with {@code appendfsync always}
 * loses nothing acknowledged, {@code everysec} up to about a second) and, with replicas, on
 * {@link RedisConfig.Builder#waitForReplicas}. See {@code docs/transports/redis.md}.
 *
 * <p>Thread-safe. The transport owns its Redis client and connections; {@link #close()} closes every
 * subscription gracefully, waits for publishes in flight, then disconnects. Redis Cluster is not
 * supported (a topic's keys share a hash tag, but dead-lettering spans two topics).
 */
public final class RedisStreamsTransport implements Transport {

    /**
     * Header that makes the publisher use its value as the stream entry id instead of a
     * server-generated one (e.g. {@code 1700000000000-0}); it is not stored with the message.
     */
    public static final String ENTRY_ID_HEADER = RedisPublisher.ENTRY_ID_HEADER;

    private final RedisConfig config;
    private final RedisContext context;
    private final RedisPublisher publisher;
    private final Subscriber subscriber;
    private final Set<Subscription> subscriptions = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    private RedisStreamsTransport(RedisConfig config) {
        this.config = config;
        this.context = new RedisContext(config);
        this.publisher = new RedisPublisher(context);
        this.subscriber = config.keyOrdering() ? (KeyOrderedSubscriber) this::subscribe : (Subscriber) this::subscribe;
    }

    /**
     * Connects to Redis as {@code config} says.
     *
     * @throws io.courier.CourierException if Redis cannot be reached or refuses the credentials
     */
    public static RedisStreamsTransport create(RedisConfig config) {
        return new RedisStreamsTransport(Objects.requireNonNull(config, "config"));
    }

    /** Connects to a local Redis with {@link RedisConfig#defaults()}. */
    public static RedisStreamsTransport create() {
        return create(RedisConfig.defaults());
    }

    /** {@code redis}. */
    @Override
    public String name() {
        return "redis";
    }

    /** The configuration this transport was created with. */
    public RedisConfig config() {
        return config;
    }

    /** The publisher, a {@link DelayedPublisher}; the same instance on every call. */
    @Override
    public DelayedPublisher publisher() {
        return publisher;
    }

    /**
     * The subscriber; the same instance on every call. A {@link KeyOrderedSubscriber} exactly when
     * {@link RedisConfig#keyOrdering()} is set; without it, it refuses a subscription asking for
     * {@link io.courier.MessageOrdering#KEY} with an {@link IllegalArgumentException} that says how to
     * turn it on. It understands no {@linkplain io.courier.TransportOption transport options}: a
     * subscription carrying one fails with an {@link IllegalArgumentException}.
     */
    @Override
    public Subscriber subscriber() {
        return subscriber;
    }

    /** The control connection, shared with {@link RedisIdempotencyStore#of}. */
    StatefulRedisConnection<byte[], byte[]> controlConnection() {
        return context.controlConnection();
    }

    /** The Redis key of {@code topic}'s stream, e.g. {@code courier:{orders}}, for inspection tools. */
    public String streamKey(String topic) {
        Payloads.checkTopic(topic);
        Keys.checkTopic(topic);
        return context.keys().streamName(topic);
    }

    private Subscription subscribe(SubscriptionOptions options, Handler handler) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        SubscriptionChecks.requireUnderstoodOptions(options, name());
        if (!config.keyOrdering()) {
            SubscriptionChecks.refuseKeyOrdering(options, name(), "it was built without key ordering, a setting of the"
                    + " whole transport: build it with RedisConfig.builder().keyOrdering(true) (in every process of the group; see"
                    + " docs/transports/redis.md, \"Per-key ordering\")");
        }
        Keys.checkTopic(options.topic());
        if (closed.get()) {
            throw new TransportClosedException("Redis transport is closed: cannot subscribe to '" + options.topic() + "'");
        }
        Subscription s = RedisSubscription.start(context, options, handler, subscriptions::remove);
        subscriptions.add(s);
        if (closed.get()) {
            s.close();
            throw new TransportClosedException("Redis transport is closed: cannot subscribe to '" + options.topic() + "'");
        }
        return s;
    }

    /** Closes every subscription gracefully, then the publisher (waiting for publishes in flight), then the connections. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        List<Thread> closing = new ArrayList<>();
        for (Subscription s : List.copyOf(subscriptions)) {
            Thread t = new Thread(s::close, "courier-redis-close-" + s.options().topic());
            t.setDaemon(true);
            t.start();
            closing.add(t);
        }
        for (Thread t : closing) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        publisher.close(config.commandTimeout().toMillis());
        context.close();
    }
}
