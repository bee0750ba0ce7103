package io.courier.memory;

import io.courier.DelayedPublisher;
import io.courier.Handler;
import io.courier.Message;
import io.courier.PublishResult;
import io.courier.Publisher;
import io.courier.StartPosition;
import io.courier.KeyOrderedSubscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportClosedException;
import io.courier.spi.engine.ConsumerEngine;
import io.courier.spi.engine.EngineTuning;
import io.courier.BatchPublishException;
import io.courier.spi.Payloads;
import io.courier.spi.Settings;
import io.courier.spi.SubscriptionChecks;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The reference transport: everything in this JVM's memory, nothing on disk.
 *
 * <p>It implements the whole core contract (consumer groups, competing consumers, leases with
 * redelivery, delayed delivery, retries, per-key ordering, graceful shutdown), so it is the transport of choice for
 * unit tests and for single-process use where losing messages on a crash is acceptable. It keeps
 * nothing across a restart and cannot be shared between processes.
 *
 * <pre>{@code
 * try (InMemoryTransport transport = InMemoryTransport.create()) {
 *     transport.subscriber().subscribe("greetings", "printer", d -> System.out.println(d.message().payloadAsText()));
 *     transport.publisher().publish("greetings", Message.ofText("hello")).join();
 * }
 * }</pre>
 *
 * <p>Every topic keeps its full log in memory so that a group created later with
 * {@link StartPosition#EARLIEST} sees what was published before it; this transport is not meant for
 * unbounded streams. Thread-safe.
 */
public final class InMemoryTransport implements Transport {

    /** Default payload size limit: 1 MiB. */
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
    /**
     * The largest payload size limit that may be configured: 64 MiB. Every payload stays in memory
     * for the transport's life (the topic log serves groups created later).
     */
    public static final int MAX_PAYLOAD_BYTES_LIMIT = 64 * 1024 * 1024;

    private final int maxPayloadBytes;
    private final Clock clock;
    private final Map<String, TopicLog> topics = new ConcurrentHashMap<>();
    /** Claims of up to 100 under one lock; a closing subscription is woken, so waits can be long. */
    private static final EngineTuning TUNING = EngineTuning.defaults().withMaxWait(Duration.ofMillis(200));

    private final Set<ConsumerEngine<GroupQueue.Claimed>> subscriptions = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final MemoryPublisher publisher = new MemoryPublisher();
    private final KeyOrderedSubscriber subscriber = this::subscribe;

    private InMemoryTransport(Builder b) {
        this.maxPayloadBytes = b.maxPayloadBytes;
        this.clock = b.clock;
    }

    /** A transport with default settings. */
    public static InMemoryTransport create() {
        return builder().build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "memory";
    }

    @Override
    public DelayedPublisher publisher() {
        return publisher;
    }

    /**
     * The subscriber; messages with one key are handled by a group in publish order, one at a time, so
     * it accepts {@link io.courier.MessageOrdering#KEY}. It understands no
     * {@linkplain io.courier.TransportOption transport options}: a subscription carrying one fails with
     * an {@link IllegalArgumentException}.
     */
    @Override
    public KeyOrderedSubscriber subscriber() {
        return subscriber;
    }

    /**
     * Messages of {@code topic} not yet acknowledged by {@code group}: ready, delayed and in flight.
     * Zero when the group does not exist.
     */
    public int backlog(String topic, String group) {
        TopicLog log = topics.get(topic);
        GroupQueue q = log == null ? null : log.group(group);
        return q == null ? 0 : q.size();
    }

    private Subscription subscribe(SubscriptionOptions options, Handler handler) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        // every subscription keeps per-key order, so MessageOrdering.KEY needs nothing; no transport options exist
        SubscriptionChecks.requireUnderstoodOptions(options, name());
        ensureOpen();
        GroupQueue queue = topic(options.topic()).groupFor(options.group(), options.startPosition(), clock);
        ConsumerEngine<GroupQueue.Claimed> s = ConsumerEngine.builder(options, handler,
                        new MemorySource(queue, options.leaseTimeout(), clock))
                .name("courier-memory-" + options.topic() + "-" + options.group())
                .clock(clock)
                .tuning(TUNING)
                .onClosed(subscriptions::remove)
                .build();
        subscriptions.add(s);
        s.start();
        return s;
    }

    private TopicLog topic(String name) {
        return topics.computeIfAbsent(name, TopicLog::new);
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new TransportClosedException("in-memory transport is closed");
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        List<ConsumerEngine<GroupQueue.Claimed>> open = new ArrayList<>(subscriptions);
        for (ConsumerEngine<GroupQueue.Claimed> s : open) {
            s.close();
        }
    }

    private final class MemoryPublisher implements DelayedPublisher {

        @Override
        public CompletableFuture<PublishResult> publish(String topic, Message message) {
            return publishAt(topic, message, null);
        }

        @Override
        public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
            Payloads.checkTopic(topic);
            Objects.requireNonNull(message, "message");
            ensureOpen();
            Payloads.checkSize(topic, message, maxPayloadBytes);
            long seq = topic(topic).append(message, deliverAt == null ? Instant.MIN : deliverAt);
            return CompletableFuture.completedFuture(PublishResult.of(message.id(), topic, Long.toString(seq)));
        }

        @Override
        public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
            Payloads.checkTopic(topic);
            ensureOpen();
            if (messages.isEmpty()) {
                return CompletableFuture.completedFuture(List.of());
            }
            if (allValid(messages)) {
                // The common case: the whole batch goes in under one lock, with one wake-up of the consumers.
                List<Message> batch = List.copyOf(messages);
                long first = topic(topic).appendAll(batch, Instant.MIN);
                List<PublishResult> results = new ArrayList<>(batch.size());
                for (int i = 0; i < batch.size(); i++) {
                    results.add(PublishResult.of(batch.get(i).id(), topic, Long.toString(first + i)));
                }
                return CompletableFuture.completedFuture(Collections.unmodifiableList(results));
            }
            List<BatchPublishException.Outcome> outcomes = new ArrayList<>(messages.size());
            List<PublishResult> results = new ArrayList<>(messages.size());
            boolean failed = false;
            for (Message m : messages) {
                try {
                    PublishResult r = publish(topic, m).join();
                    results.add(r);
                    outcomes.add(BatchPublishException.Outcome.published(r));
                } catch (RuntimeException e) {
                    failed = true;
                    outcomes.add(BatchPublishException.Outcome.failed(m.id(), e));
                }
            }
            return failed
                    ? CompletableFuture.failedFuture(new BatchPublishException(topic, outcomes))
                    : CompletableFuture.completedFuture(List.copyOf(results));
        }

        /** True when every message would be accepted by {@link #publish}. */
        private boolean allValid(List<Message> messages) {
            for (Message m : messages) {
                if (m == null || m.payloadSize() > maxPayloadBytes) {
                    return false;
                }
            }
            return true;
        }
    }

    /** Builds an {@link InMemoryTransport}. */
    public static final class Builder {
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /**
         * Largest payload accepted, in bytes: 1 .. {@value #MAX_PAYLOAD_BYTES_LIMIT} (64 MiB), default
         * 1 MiB; larger ones fail with {@link io.courier.MessageTooLargeException}.
         *
         * @throws IllegalArgumentException when out of that range
         */
        public Builder maxPayloadBytes(int maxPayloadBytes) {
            this.maxPayloadBytes = Settings.between(maxPayloadBytes, 1, MAX_PAYLOAD_BYTES_LIMIT, "maxPayloadBytes");
            return this;
        }

        /** The clock used for delivery times and leases (default: system UTC). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Builds the transport. */
        public InMemoryTransport build() {
            return new InMemoryTransport(this);
        }
    }

    static Duration untilOrZero(Clock clock, Instant when) {
        Duration d = Duration.between(clock.instant(), when);
        return d.isNegative() ? Duration.ZERO : d;
    }
}
