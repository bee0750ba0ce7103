package io.courier.kafka;

import io.courier.DelayedPublisher;
import io.courier.Handler;
import io.courier.MessageOrdering;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportClosedException;
import io.courier.kafka.internal.DelayForwarder;
import io.courier.kafka.internal.DelayLadder;
import io.courier.kafka.internal.KafkaClients;
import io.courier.kafka.internal.KafkaPublisherImpl;
import io.courier.kafka.internal.KafkaSubscriptionImpl;
import io.courier.kafka.internal.TopicManager;
import io.courier.kafka.internal.TopicNames;
import io.courier.spi.Payloads;
import io.courier.spi.SubscriptionChecks;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;

/**
 * Courier over Apache Kafka, on the official {@code kafka-clients}.
 *
 * <pre>{@code
 * try (KafkaTransport kafka = KafkaTransport.create(KafkaConfig.builder()
 *         .bootstrapServers("127.0.0.1:9092")
 *         .build())) {
 *     kafka.subscriber().subscribe("orders", "billing", d -> bill(d.message()));
 *     kafka.publisher().publish("orders", Message.builder().key("order-42").payload(json).build()).join();
 * }
 * }</pre>
 *
 * <p><b>Guarantees.</b> A publish completes once the record is acknowledged by all in-sync replicas
 * ({@code acks=all}, idempotent producer); its {@link io.courier.PublishResult#position() position}
 * is {@code partition@offset}. Messages with the same key go to the same partition (Kafka's murmur2
 * partitioner, compatible with other Kafka clients) and are handled in publish order. Delivery is
 * at-least-once: a consumer commits a partition's offset only up to its first record not yet finished,
 * so a crash or rebalance redelivers, never skips.
 *
 * <p><b>Topics.</b> Topics are created when first used, with {@link KafkaConfig#partitions()} partitions
 * and the configured replication factor; an existing topic with fewer partitions is refused with a
 * {@link TopicPartitionsException}. Besides the user's topics the transport writes
 * {@code <topic>.<group>.retry} (retries of one group), {@code <topic>.dlq} (records that cannot be
 * read as messages) and the delay topics {@code courier.delay.*}.
 *
 * <p><b>Delays and retries.</b> The publisher is a {@link DelayedPublisher}. Delayed records wait in
 * the delay topics, a ladder of steps with one fixed delay each, and a forwarder moves them on when
 * due; see {@code docs/transports/kafka.md} for precision. A transport starts its forwarder when it
 * first subscribes or publishes with a delay (unless {@link KafkaConfig#runDelayForwarder()} is off).
 *
 * <p>Thread-safe. {@link #close()} closes the subscriptions (letting handlers finish and committing
 * their offsets), the forwarder, then the producer (waiting for records in flight) and the admin client.
 */
public final class KafkaTransport implements Transport {

    private final KafkaConfig config;
    private final KafkaClients clients;
    private final Admin admin;
    private final TopicManager topics;
    private final DelayLadder ladder;
    private final KafkaPublisherImpl publisher;
    private final Subscriber subscriber = new Subscriber();
    private final Set<KafkaSubscriptionImpl> subscriptions = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Object forwarderLock = new Object();
    private DelayForwarder forwarder;
    private boolean ladderReady;

    private KafkaTransport(KafkaConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        this.clients = new KafkaClients(config);
        this.admin = clients.admin();
        this.topics = new TopicManager(admin, config);
        this.ladder = new DelayLadder(config.delayTopicPrefix());
        KafkaPublisherImpl p;
        try {
            p = new KafkaPublisherImpl(clients, topics, ladder, this::startForwarder);
        } catch (RuntimeException e) {
            admin.close(Duration.ZERO);
            throw e;
        }
        this.publisher = p;
    }

    /**
     * A transport for {@code config}. Creating it does not contact the broker yet; the first publish
     * or subscribe does.
     */
    public static KafkaTransport create(KafkaConfig config) {
        return new KafkaTransport(config);
    }

    /** A transport with {@link KafkaConfig#defaults()}: the local broker on 127.0.0.1:9092. */
    public static KafkaTransport create() {
        return create(KafkaConfig.defaults());
    }

    /** The configuration. */
    public KafkaConfig config() {
        return config;
    }

    @Override
    public String name() {
        return "kafka";
    }

    /** The publisher: thread-safe, delayed delivery included. */
    @Override
    public DelayedPublisher publisher() {
        return publisher;
    }

    @Override
    public KafkaSubscriber subscriber() {
        return subscriber;
    }

    /**
     * Creates {@code topic} if missing and checks its partition count, as the first publish or subscribe
     * would; returns the partition count it has.
     *
     * @throws TopicPartitionsException if it exists with fewer partitions than required
     */
    public int ensureTopic(String topic) {
        Payloads.checkTopic(topic);
        TopicNames.requireLegal(topic);
        ensureOpen();
        return topics.await(topics.ensureUserTopic(topic), "creating topic '" + topic + "'");
    }

    /** The retry topic where {@code group}'s retries of {@code topic} come back. */
    public static String retryTopic(String topic, String group) {
        return TopicNames.retryTopic(topic, group);
    }

    /** The topic where records of {@code topic} that cannot be read as messages are moved. */
    public static String deadLetterTopic(String topic) {
        return TopicNames.deadLetterTopic(topic);
    }

    /** The names of the delay topics. */
    public List<String> delayTopics() {
        return ladder.topics();
    }

    private Subscription subscribe(SubscriptionOptions options, Handler handler) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        KafkaSubscriptionOptions kafkaOptions = kafkaOptions(options, config.subscriptionDefaults());
        TopicNames.requireLegal(options.topic());
        ensureOpen();
        int partitions = topics.await(topics.ensureUserTopic(options.topic()), "creating topic '" + options.topic() + "'");
        String retryTopic = TopicNames.retryTopic(options.topic(), options.group());
        topics.await(topics.ensure(retryTopic, partitions, false, Optional.empty()), "creating topic '" + retryTopic + "'");
        startForwarder();
        KafkaSubscriptionImpl s = new KafkaSubscriptionImpl(options, kafkaOptions, handler, clients, publisher, retryTopic,
                subscriptions::remove);
        subscriptions.add(s);
        s.start();
        if (closed.get()) {
            s.close();
            throw new TransportClosedException("Kafka transport is closed");
        }
        return s;
    }

    /**
     * The Kafka settings a subscription runs with: the attached {@link KafkaSubscriptionOptions} as
     * given, else {@code defaults}, switched to {@link Ordering#KEY} when the subscription asks for
     * {@link MessageOrdering#KEY} (both Kafka orderings keep per-key order; KEY runs a partition's keys
     * concurrently, which is what the transport-independent request means).
     *
     * @throws IllegalArgumentException if {@code options} carry a transport option of another transport
     */
    static KafkaSubscriptionOptions kafkaOptions(SubscriptionOptions options, KafkaSubscriptionOptions defaults) {
        SubscriptionChecks.requireUnderstoodOptions(options, "kafka", KafkaSubscriptionOptions.class);
        return options.option(KafkaSubscriptionOptions.class).orElseGet(() -> options.ordering() == MessageOrdering.KEY
                ? defaults.toBuilder().ordering(Ordering.KEY).build()
                : defaults);
    }

    /** Makes sure the delay topics exist and, if configured, that this transport runs a forwarder. */
    private void startForwarder() {
        synchronized (forwarderLock) {
            if (closed.get() || (ladderReady && (forwarder != null || !config.runDelayForwarder()))) {
                return;
            }
            if (!ladderReady) {
                List<CompletableFuture<Integer>> created = new ArrayList<>();
                for (DelayLadder.Step step : ladder.steps()) {
                    created.add(topics.ensure(step.topic(), config.partitions(), false, Optional.of(step.retention())));
                }
                topics.await(CompletableFuture.allOf(created.toArray(CompletableFuture[]::new)), "creating the delay topics");
                ladderReady = true;
            }
            if (config.runDelayForwarder() && forwarder == null) {
                forwarder = new DelayForwarder(clients, ladder, publisher, topics);
                forwarder.start();
            }
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new TransportClosedException("Kafka transport is closed");
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        List<KafkaSubscriptionImpl> open = new ArrayList<>(subscriptions);
        open.parallelStream().forEach(KafkaSubscriptionImpl::close);
        DelayForwarder f;
        synchronized (forwarderLock) {
            f = forwarder;
            forwarder = null;
        }
        if (f != null) {
            f.close();
        }
        try {
            publisher.close(Duration.ofSeconds(30));
        } finally {
            admin.close(Duration.ofSeconds(5));
        }
    }

    @Override
    public String toString() {
        return "KafkaTransport{" + config.bootstrapServers() + '}';
    }

    private final class Subscriber implements KafkaSubscriber {
        @Override
        public Subscription subscribe(SubscriptionOptions options, Handler handler) {
            return KafkaTransport.this.subscribe(options, handler);
        }
    }
}
