package io.courier.rabbitmq;

import io.courier.DelayedPublisher;
import io.courier.Handler;
import io.courier.KeyOrderedSubscriber;
import io.courier.Subscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportClosedException;
import io.courier.rabbitmq.internal.ConnectionWatch;
import io.courier.rabbitmq.internal.DelayLadder;
import io.courier.rabbitmq.internal.PartitionedSource;
import io.courier.rabbitmq.internal.PartitionedSubscription;
import io.courier.rabbitmq.internal.RabbitPublisher;
import io.courier.rabbitmq.internal.RabbitSource;
import io.courier.rabbitmq.internal.Topology;
import io.courier.spi.SubscriptionChecks;
import io.courier.spi.engine.ConsumerEngine;
import io.courier.spi.engine.DeliverySource;
import io.courier.spi.engine.EngineTuning;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RabbitMQ transport, on the official {@code com.rabbitmq:amqp-client}.
 *
 * <pre>{@code
 * RabbitMqConfig config = RabbitMqConfig.builder()
 *     .uri("amqp://guest:guest@localhost:5672/")
 *     .declareGroups("orders", "billing")        // billing's queue keeps messages before it first subscribes
 *     .build();
 * try (RabbitMqTransport transport = RabbitMqTransport.connect(config)) {
 *     transport.subscriber().subscribe("orders", "billing", d -> bill(d.message()));
 *     transport.publisher().publish("orders", Message.ofText("{...}")).join();     // returns once confirmed
 *     transport.publisher().publishAfter("orders", Message.ofText("{...}"), Duration.ofMinutes(5));
 * }
 * }</pre>
 *
 * <p><b>Topology.</b> A topic is an exchange (by default a durable {@code topic} exchange named after the
 * topic, see {@link TopicTopology}); a consumer group is a durable queue {@code <topic>.<group>} bound
 * to it, so every group receives every message and the consumers of a group compete. Delayed delivery
 * uses a ladder of fixed-TTL queues (no plugin, no head-of-line blocking). All of it is declared by
 * the transport, idempotently; a conflicting existing queue or exchange fails with a
 * {@link TopologyMismatchException} naming the argument.
 *
 * <p><b>Guarantees.</b> Messages are persistent and published with {@code mandatory}; a publish future
 * completes only when the broker confirmed the message, and fails (never succeeds) when it was
 * refused, unroutable, not confirmed in time, or its connection was lost. Consumers acknowledge
 * manually after the handler returned; failures are redelivered later through the delay ladder with
 * an attempt count, never requeued in a hot loop. Delivery is at-least-once.
 *
 * <p><b>Per-key ordering</b> is opt-in, for the whole transport: with
 * {@link RabbitMqConfig.Builder#keyOrdering(int) keyOrdering(partitions)} the subscriber is a
 * {@link KeyOrderedSubscriber}, each group has one single-active-consumer queue per partition and
 * keyed messages go to the partition of their key (see {@code docs/transports/rabbitmq.md}, "Per-key
 * ordering").
 *
 * <p><b>Connections.</b> One connection for publishing and one for consuming (so a broker that blocks
 * publishers never stalls consumers), both recovered automatically; consumers resume after recovery
 * and publishes wait up to {@link RabbitMqConfig#recoveryTimeout()} for it.
 *
 * <p>Thread-safe. {@link #close()} closes subscriptions gracefully, waits for outstanding confirms,
 * then closes the connections.
 */
public final class RabbitMqTransport implements Transport {

    private static final Logger log = LoggerFactory.getLogger(RabbitMqTransport.class);

    private final RabbitMqConfig config;
    private final ConnectionWatch publishing;
    private final ConnectionWatch consuming;
    private final ExecutorService completions;
    private final ScheduledExecutorService scheduler;
    private final ScheduledExecutorService timer;
    private final Topology topology;
    private final RabbitPublisher publisher;
    private final Set<ConsumerEngine<?>> subscriptions = ConcurrentHashMap.newKeySet();
    private final Subscriber subscriber;
    private final AtomicBoolean closed = new AtomicBoolean();

    private RabbitMqTransport(RabbitMqConfig config) {
        this.config = config;
        this.subscriber = config.keyOrdered() ? new KeyOrderedRabbitSubscriber() : new RabbitSubscriber();
        this.publishing = ConnectionWatch.open(config, "publisher");
        try {
            this.consuming = ConnectionWatch.open(config, "consumer");
        } catch (RuntimeException e) {
            publishing.close();
            throw e;
        }
        this.completions = Executors.newCachedThreadPool(daemon("courier-rabbitmq-completion"));
        this.scheduler = Executors.newScheduledThreadPool(2, daemon("courier-rabbitmq-recovery"));
        // its own thread for short timed tasks (confirm timeouts): consumer recovery does blocking broker
        // calls and must never delay them
        this.timer = Executors.newSingleThreadScheduledExecutor(daemon("courier-rabbitmq-timer"));
        this.topology = new Topology(config, publishing, new DelayLadder(config.delayPrefix()));
        this.publisher = new RabbitPublisher(config, publishing, topology, completions);
        publishing.onRecovery(topology::invalidate);
        timer.scheduleWithFixedDelay(publisher::expireOverdue, 50, 50, TimeUnit.MILLISECONDS);
        try {
            for (String topic : config.declaredGroups().keySet()) {
                topology.topicRoute(topic);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Connects to the broker {@code config} names and declares the configured groups' queues.
     *
     * @throws io.courier.CourierException when the broker cannot be reached or refuses the login
     * @throws TopologyMismatchException   when a pre-declared queue exists with other arguments
     */
    public static RabbitMqTransport connect(RabbitMqConfig config) {
        return new RabbitMqTransport(Objects.requireNonNull(config, "config"));
    }

    /** Connects with {@link RabbitMqConfig#defaults()}: {@code amqp://guest:guest@localhost:5672/}. */
    public static RabbitMqTransport connect() {
        return connect(RabbitMqConfig.defaults());
    }

    /** The configuration this transport was connected with. */
    public RabbitMqConfig config() {
        return config;
    }

    @Override
    public String name() {
        return "rabbitmq";
    }

    /**
     * The publisher; also a {@link DelayedPublisher}: delayed messages are delivered within milliseconds
     * of due (never before), and delays may be up to {@link #maxDelay()}.
     */
    @Override
    public DelayedPublisher publisher() {
        return publisher;
    }

    /**
     * The subscriber: a {@link KeyOrderedSubscriber} when the configuration turned on
     * {@linkplain RabbitMqConfig.Builder#keyOrdering(int) key ordering}, a plain {@link Subscriber}
     * otherwise. Without key ordering it refuses a subscription asking for
     * {@link io.courier.MessageOrdering#KEY} with an {@link IllegalArgumentException} that says how to
     * turn it on. It understands no {@linkplain io.courier.TransportOption transport options}: a
     * subscription carrying one fails with an {@link IllegalArgumentException}.
     */
    @Override
    public Subscriber subscriber() {
        return subscriber;
    }

    /** Competing consumers on one queue per group. */
    private final class RabbitSubscriber implements Subscriber {
        @Override
        public Subscription subscribe(SubscriptionOptions options, Handler handler) {
            return RabbitMqTransport.this.subscribe(options, handler);
        }
    }

    /** One queue per partition and group, each with a single active consumer. */
    private final class KeyOrderedRabbitSubscriber implements KeyOrderedSubscriber {
        @Override
        public Subscription subscribe(SubscriptionOptions options, Handler handler) {
            return RabbitMqTransport.this.subscribe(options, handler);
        }
    }

    /** The longest delay {@link DelayedPublisher} accepts on this transport (about 77 days). */
    public static Duration maxDelay() {
        return DelayLadder.MAX_DELAY;
    }

    /**
     * Declares {@code group}'s queue on {@code topic} now, without consuming, so that it keeps every
     * message published from now on. The programmatic form of {@link RabbitMqConfig.Builder#declareGroups}.
     * In key-ordered mode it declares the group's partition queues {@code <topic>.<group>.p0} ... instead.
     *
     * @return the queue name {@code <topic>.<group>}; in key-ordered mode the common prefix of the
     *         partition queues
     */
    public String declareGroup(String topic, String group) {
        ensureOpen();
        topology.topicRoute(topic);
        return topology.declareGroup(topic, group);
    }

    /**
     * The largest {@code maxInFlight} a subscription may ask for: it becomes the channel's
     * {@code basic.qos} prefetch count, a 16-bit number (in key-ordered mode, per partition queue).
     */
    public static final int MAX_PREFETCH = 65_535;

    private Subscription subscribe(SubscriptionOptions options, Handler handler) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        SubscriptionChecks.requireUnderstoodOptions(options, name());
        if (!config.keyOrdered()) {
            SubscriptionChecks.refuseKeyOrdering(options, name(), "it was built without key ordering, a setting of the"
                    + " whole transport: build it with RabbitMqConfig.builder().keyOrdering(partitions) (one single-active-consumer"
                    + " queue per partition and group; see docs/transports/rabbitmq.md, \"Per-key ordering\")");
        }
        long limit = (long) MAX_PREFETCH * Math.max(1, config.keyOrderingPartitions());
        if (options.maxInFlight() > limit) {
            throw new IllegalArgumentException("maxInFlight must be at most " + limit + " on RabbitMQ (the basic.qos prefetch count"
                    + " is 16-bit" + (config.keyOrdered() ? ", per partition queue" : "") + "), but was " + options.maxInFlight());
        }
        ensureOpen();
        Subscription s;
        ConsumerEngine<?> engine;
        if (config.keyOrdered()) {
            PartitionedSource source = new PartitionedSource(options, consuming, topology, publisher, scheduler,
                    config.recoveryInterval());
            ConsumerEngine<PartitionedSource.Received> e = engine(options, handler, source, tuning(options));
            s = new PartitionedSubscription(e, source);
            engine = e;
        } else {
            ConsumerEngine<RabbitSource.Received> e = engine(options, handler,
                    new RabbitSource(options, consuming, topology, publisher, scheduler, config.recoveryInterval()),
                    PULL_TUNING);
            s = e;
            engine = e;
        }
        subscriptions.add(engine);
        try {
            engine.start();
        } catch (RuntimeException e) {
            subscriptions.remove(engine);
            throw e;
        }
        if (closed.get()) {
            s.close();
            throw new TransportClosedException("RabbitMQ transport is closed");
        }
        return s;
    }

    /**
     * For a key-ordered {@link PartitionedSource}, whose deliveries the engine's fetch thread hands to
     * the key lanes. A fetch is a take from the deliveries the broker already pushed (no I/O), so the engine fetches
     * in small batches: it fetches once there is room for {@code fetchBatch / 2} (an eighth of
     * {@code maxInFlight}, at least one), so the deliveries that wait outside the engine never keep a
     * finishing handler from finding the next one ready, as when the prefetch went straight to the
     * handler threads.
     */
    private static EngineTuning tuning(SubscriptionOptions options) {
        return EngineTuning.defaults().withFetchBatch(Math.max(2, Math.min(100, options.maxInFlight() / 4)));
    }

    /**
     * For a {@link RabbitSource}, whose handler threads take from the deliveries the broker pushed
     * themselves: one at a time, so that no delivery ever waits behind a running handler while another
     * handler thread is free (a take is a short lock, nothing next to a delivery's cost).
     */
    private static final EngineTuning PULL_TUNING = EngineTuning.defaults().withFetchBatch(1);

    /**
     * The engine consuming for {@code options} from {@code source}: handlers on {@code concurrency}
     * threads named {@code courier-rabbitmq-<topic>-<group>-<n>}, at most {@code maxInFlight} deliveries
     * held (the broker's prefetch), each settled on its handler's thread.
     */
    private <R> ConsumerEngine<R> engine(SubscriptionOptions options, Handler handler, DeliverySource<R> source,
                                         EngineTuning tuning) {
        return ConsumerEngine.builder(options, handler, source)
                .name("courier-rabbitmq-" + options.topic() + "-" + options.group())
                .tuning(tuning)
                .onClosed(subscriptions::remove)
                .build();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new TransportClosedException("RabbitMQ transport is closed");
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (ConsumerEngine<?> s : new ArrayList<>(subscriptions)) {
            try {
                s.close();
            } catch (RuntimeException e) {
                log.warn("closing subscription {}/{} failed", s.options().topic(), s.options().group(), e);
            }
        }
        if (publisher != null) {
            publisher.close(config.publishConfirmTimeout());
        }
        for (ConnectionWatch c : List.of(consuming, publishing)) {
            c.close();
        }
        scheduler.shutdownNow();
        timer.shutdownNow();
        completions.shutdown();
    }

    private static ThreadFactory daemon(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
