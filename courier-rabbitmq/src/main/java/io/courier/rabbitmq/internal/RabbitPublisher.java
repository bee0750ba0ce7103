package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import io.courier.BatchPublishException;
import io.courier.CourierException;
import io.courier.DelayedPublisher;
import io.courier.Message;
import io.courier.MessageTooLargeException;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.TransportClosedException;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.spi.IsoInstants;
import io.courier.spi.PayloadAccess;
import io.courier.spi.Payloads;
import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RabbitMQ publisher: persistent messages, {@code mandatory} routing, publisher confirms tracked
 * by delivery tag on a pool of channels, and delayed delivery through the {@link DelayLadder}.
 *
 * <p>While the connection is up and not blocked by the broker, a publish declares what it needs (once),
 * writes the message on a borrowed channel and returns a future that completes on the broker's
 * confirm; the caller waits at most for a free channel. While the connection is down or blocked, the
 * publish is queued instead and returns at once: a background thread sends queued publishes in order
 * once the connection is usable again, and fails those still waiting after
 * {@link RabbitMqConfig#recoveryTimeout()} (connection down) or
 * {@link RabbitMqConfig#publishConfirmTimeout()} (broker blocking publishers). Thread-safe.
 */
public final class RabbitPublisher implements DelayedPublisher {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    private static final Logger log = LoggerFactory.getLogger(RabbitPublisher.class);

    /** One publish: tries to hand the message to the broker now; null when the connection is not usable. */
    @FunctionalInterface
    private interface Attempt {
        CompletableFuture<PublishResult> tryNow();
    }

    /** A publish waiting for the connection. */
    private record Waiting(String topic, String what, Attempt attempt, long deadlineNanos, boolean blockedAtSubmit,
                           CompletableFuture<PublishResult> result) {
    }

    private final RabbitMqConfig config;
    private final ConnectionWatch connection;
    private final Topology topology;
    private final ChannelPool pool;
    private final BlockingQueue<Waiting> waiting = new LinkedBlockingQueue<>();
    private final Thread waitingSender;
    private final AtomicInteger roundRobin = new AtomicInteger();
    private volatile boolean closed;

    /**
     * A publisher on {@code connection}; futures are completed on {@code completions}.
     */
    public RabbitPublisher(RabbitMqConfig config, ConnectionWatch connection, Topology topology, Executor completions) {
        this.config = config;
        this.connection = connection;
        this.topology = topology;
        this.pool = new ChannelPool(connection, config.publisherChannels(), completions, topology::invalidate,
                config.publishConfirmTimeout());
        this.waitingSender = new Thread(this::sendWaiting, "courier-rabbitmq-waiting-publishes");
        waitingSender.setDaemon(true);
        waitingSender.start();
    }

    @Override
    public CompletableFuture<PublishResult> publish(String topic, Message message) {
        return publishAt(topic, message, null);
    }

    /**
     * Publishes {@code message} to be delivered no earlier than {@code deliverAt}, and within
     * milliseconds of it (the ladder waits whole {@link DelayLadder#TICK}s, the consumer holds the
     * message for the rest, at most {@link DelayLadder#MAX_HOLD}); a past or null time means now.
     *
     * @throws IllegalArgumentException when the delay exceeds {@link DelayLadder#MAX_DELAY}
     */
    @Override
    public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
        Payloads.checkTopic(topic);
        Objects.requireNonNull(message, "message");
        ensureOpen();
        Payloads.checkSize(topic, message, config.maxPayloadBytes());
        if (deliverAt != null && Duration.between(Instant.now(), deliverAt).compareTo(DelayLadder.MAX_DELAY) > 0) {
            throw new IllegalArgumentException("delay must be at most " + DelayLadder.MAX_DELAY + " on RabbitMQ, but was "
                    + Duration.between(Instant.now(), deliverAt));
        }
        int partition = partitionOf(message);
        return submit(topic, "message " + message.id(), () -> {
            Topology.Route route = topology.topicRoute(topic);
            Duration delay = deliverAt == null ? Duration.ZERO : Duration.between(Instant.now(), deliverAt);
            if (delay.isNegative() || delay.isZero()) {
                return sendNow(topic, message, route.exchange(), routingKey(route, partition), Map.of());
            }
            // the exact due time travels with the message: the consumer holds it for the last part of a tick
            Map<String, Object> due = Map.of(MessageMapping.DELIVER_AT, IsoInstants.format(deliverAt));
            if (delay.compareTo(DelayLadder.MAX_HOLD) < 0) {
                return sendNow(topic, message, route.exchange(), routingKey(route, partition), due);
            }
            DelayLadder.Hop hop = topology.ladder().route(delay, partition < 0 ? topology.delayedTopicToken(topic)
                    : topology.delayedTopicToken(topic, partition));
            return sendNow(topic, message, hop.exchange(), hop.routingKey(), due);
        });
    }

    /**
     * Publishes {@code message} to be delivered after {@code delay}, as
     * {@link #publishAt(String, Message, Instant)}; zero or negative means now.
     *
     * @throws IllegalArgumentException when the delay exceeds {@link DelayLadder#MAX_DELAY}
     */
    @Override
    public CompletableFuture<PublishResult> publishAfter(String topic, Message message, Duration delay) {
        Objects.requireNonNull(delay, "delay");
        if (delay.compareTo(DelayLadder.MAX_DELAY) > 0) {
            throw new IllegalArgumentException("delay must be at most " + DelayLadder.MAX_DELAY + " on RabbitMQ, but was " + delay);
        }
        return publishAt(topic, message, delay.isNegative() || delay.isZero() ? null : Instant.now().plus(delay));
    }

    /**
     * Publishes a copy of {@code message} into one consumer group's {@code queue} only (not to the
     * other groups of the topic), after {@code delay}, recording that {@code attemptsSoFar} attempts
     * were made. Used to settle failed and retried deliveries.
     */
    public CompletableFuture<PublishResult> redeliver(String topic, String queue, Message message, Duration delay, int attemptsSoFar) {
        ensureOpen();
        Instant due = Instant.now().plus(delay.compareTo(DelayLadder.MAX_DELAY) > 0 ? DelayLadder.MAX_DELAY : delay);
        return submit(topic, "message " + message.id(), () -> {
            Map<String, Object> extra = new HashMap<>();
            extra.put(MessageMapping.ATTEMPT, attemptsSoFar);
            Duration left = Duration.between(Instant.now(), due);
            if (left.isNegative() || left.isZero()) {
                return sendNow(topic, message, "", queue, extra);
            }
            extra.put(MessageMapping.DELIVER_AT, IsoInstants.format(due));
            DelayLadder.Hop hop = topology.ladder().route(left, DelayLadder.queueToken(queue));
            if (hop == null) {
                return sendNow(topic, message, "", queue, extra);   // too short for the ladder: the consumer holds it
            }
            topology.ensureLadder();
            return sendNow(topic, message, hop.exchange(), hop.routingKey(), extra);
        });
    }

    /**
     * Publishes the messages pipelined on one channel: all are written, then the confirms are awaited
     * together. Not atomic: on partial failure the {@link BatchPublishException} reports each
     * message's outcome.
     */
    @Override
    public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
        Payloads.checkTopic(topic);
        Objects.requireNonNull(messages, "messages");
        ensureOpen();
        List<CompletableFuture<PublishResult>> futures = new ArrayList<>(messages.size());
        PublisherChannel pc = null;
        Topology.Route route = null;
        try {
            for (Message m : messages) {
                Objects.requireNonNull(m, "message");
                if (m.payloadSize() > config.maxPayloadBytes()) {
                    futures.add(CompletableFuture.failedFuture(
                            new MessageTooLargeException(topic, m.id(), m.payloadSize(), config.maxPayloadBytes())));
                    continue;
                }
                CompletableFuture<PublishResult> sent = null;
                if (usable()) {
                    try {
                        if (route == null) {
                            route = topology.topicRoute(topic);
                        }
                        if (pc == null) {
                            pc = pool.borrow(topic, System.nanoTime() + config.publishConfirmTimeout().toNanos());
                        }
                        if (pc != null) {
                            PendingConfirm p = pending(topic, m, route.exchange(), routingKey(route, partitionOf(m)));
                            if (pc.send(p, MessageMapping.toProperties(m, config.durable(), Map.of()), PAYLOADS.view(m))) {
                                sent = p.future;
                            }
                        }
                    } catch (CourierException e) {
                        if (usable()) {
                            sent = CompletableFuture.failedFuture(asPublishException(topic, "message " + m.id(), e));
                        }
                    }
                }
                if (sent == null) {
                    // the connection is down, blocked, or went down mid-batch: queue this one like a single publish
                    if (pc != null) {
                        pool.release(pc);
                        pc = null;
                    }
                    sent = publish(topic, m);
                }
                futures.add(sent);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            while (futures.size() < messages.size()) {
                futures.add(CompletableFuture.failedFuture(new PublishException(topic, "interrupted while publishing a batch")));
            }
        } finally {
            if (pc != null) {
                pool.release(pc);
            }
        }
        return combine(topic, messages, futures);
    }

    private static CompletableFuture<List<PublishResult>> combine(String topic, List<Message> messages,
                                                                  List<CompletableFuture<PublishResult>> futures) {
        return CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).handle((ignored, error) -> {
            if (error == null) {
                // every message was confirmed: no per-message outcomes to build
                List<PublishResult> results = new ArrayList<>(futures.size());
                for (CompletableFuture<PublishResult> f : futures) {
                    results.add(f.join());
                }
                return Collections.unmodifiableList(results);
            }
            List<BatchPublishException.Outcome> outcomes = new ArrayList<>(futures.size());
            for (int i = 0; i < futures.size(); i++) {
                try {
                    outcomes.add(BatchPublishException.Outcome.published(futures.get(i).join()));
                } catch (CompletionException | java.util.concurrent.CancellationException e) {
                    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                    outcomes.add(BatchPublishException.Outcome.failed(messages.get(i).id(), cause));
                }
            }
            throw new CompletionException(new BatchPublishException(topic, outcomes));
        });
    }

    /**
     * The partition {@code message} goes to in key-ordered mode: its key's
     * {@link RabbitMqConfig#keyPartition(String, int)}, or the next one round-robin when it has no key;
     * -1 when key ordering is off.
     */
    private int partitionOf(Message message) {
        int partitions = config.keyOrderingPartitions();
        if (partitions == RabbitMqConfig.NO_KEY_ORDERING) {
            return -1;
        }
        return message.key().map(k -> RabbitMqConfig.keyPartition(k, partitions))
                .orElseGet(() -> Math.floorMod(roundRobin.getAndIncrement(), partitions));
    }

    private static String routingKey(Topology.Route route, int partition) {
        return partition < 0 ? route.routingKey() : Topology.partitionRoutingKey(partition);
    }

    /** True when a publish can be handed to the broker now. */
    private boolean usable() {
        return connection.isOpen() && connection.blockedReason() == null;
    }

    /** Runs {@code attempt} now if the connection is usable, otherwise queues it for the waiting sender. */
    private CompletableFuture<PublishResult> submit(String topic, String what, Attempt attempt) {
        if (usable()) {
            try {
                CompletableFuture<PublishResult> f = attempt.tryNow();
                if (f != null) {
                    return f;
                }
            } catch (CourierException e) {
                if (usable()) {
                    return CompletableFuture.failedFuture(asPublishException(topic, what, e));
                }
                // the connection dropped during the attempt: wait for it like any other publish
            } catch (IllegalArgumentException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        boolean blocked = connection.isOpen() && connection.blockedReason() != null;
        Duration patience = blocked ? config.publishConfirmTimeout() : config.recoveryTimeout();
        Waiting w = new Waiting(topic, what, attempt, System.nanoTime() + patience.toNanos(), blocked, new CompletableFuture<>());
        waiting.add(w);
        if (closed) {
            failWaiting();
        }
        return w.result;
    }

    /** The waiting sender: hands queued publishes to the broker in order once the connection is usable. */
    private void sendWaiting() {
        while (!closed) {
            Waiting w;
            try {
                w = waiting.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                break;
            }
            if (w == null) {
                continue;
            }
            try {
                while (true) {
                    if (closed) {
                        w.result.completeExceptionally(closedBeforeSent(w));
                        break;
                    }
                    if (System.nanoTime() - w.deadlineNanos > 0) {
                        w.result.completeExceptionally(gaveUp(w));
                        break;
                    }
                    if (usable()) {
                        CompletableFuture<PublishResult> f = null;
                        try {
                            f = w.attempt.tryNow();
                        } catch (CourierException e) {
                            if (usable()) {
                                w.result.completeExceptionally(asPublishException(w.topic, w.what, e));
                                break;
                            }
                        } catch (RuntimeException e) {
                            w.result.completeExceptionally(e);
                            break;
                        }
                        if (f != null) {
                            f.whenComplete((r, e) -> {
                                if (e != null) {
                                    w.result.completeExceptionally(e);
                                } else {
                                    w.result.complete(r);
                                }
                            });
                            break;
                        }
                    }
                    long until = Math.min(w.deadlineNanos, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100));
                    if (!connection.awaitOpen(until)) {
                        continue;
                    }
                    connection.awaitUnblocked(until);
                }
            } catch (InterruptedException e) {
                w.result.completeExceptionally(closedBeforeSent(w));
                break;
            } catch (RuntimeException e) {
                log.warn("unexpected failure sending a waiting publish of {} to topic '{}'", w.what, w.topic, e);
                w.result.completeExceptionally(e);
            }
        }
        failWaiting();
    }

    private void failWaiting() {
        Waiting w;
        while ((w = waiting.poll()) != null) {
            w.result.completeExceptionally(closedBeforeSent(w));
        }
    }

    private PublishException gaveUp(Waiting w) {
        String blocked = connection.blockedReason();
        if (connection.isOpen() && blocked != null) {
            return new PublishException(w.topic, "cannot publish " + w.what + " to topic '" + w.topic
                    + "': RabbitMQ is blocking publishers (" + blocked + ": a memory or disk alarm) and did not unblock within "
                    + (w.blockedAtSubmit ? config.publishConfirmTimeout() + " (publishConfirmTimeout)"
                    : config.recoveryTimeout() + " (recoveryTimeout)") + "; the message was not sent");
        }
        return new PublishException(w.topic, "cannot publish " + w.what + " to topic '" + w.topic
                + "': the connection to RabbitMQ is down and did not recover within "
                + (w.blockedAtSubmit ? config.publishConfirmTimeout() + " (publishConfirmTimeout)"
                : config.recoveryTimeout() + " (recoveryTimeout)") + "; the message was not sent");
    }

    private static PublishException closedBeforeSent(Waiting w) {
        return new PublishException(w.topic, "the publisher was closed while " + w.what + " to topic '" + w.topic
                + "' waited for the connection; the message was not sent");
    }

    /**
     * Writes the message on a borrowed channel. Returns its confirm future, or null when the connection
     * or channel is down and nothing was sent.
     */
    private CompletableFuture<PublishResult> sendNow(String topic, Message message, String exchange, String routingKey,
                                                     Map<String, Object> extraHeaders) {
        AMQP.BasicProperties props = MessageMapping.toProperties(message, config.durable(), extraHeaders);
        PublisherChannel pc;
        try {
            pc = pool.borrow(topic, System.nanoTime() + config.publishConfirmTimeout().toNanos());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PublishException(topic, "interrupted while waiting for a publishing channel for message " + message.id());
        }
        if (pc == null) {
            return null;
        }
        try {
            PendingConfirm p = pending(topic, message, exchange, routingKey);
            return pc.send(p, props, PAYLOADS.view(message)) ? p.future : null;
        } finally {
            pool.release(pc);
        }
    }

    private PendingConfirm pending(String topic, Message message, String exchange, String routingKey) {
        return new PendingConfirm(topic, message.id(), exchange, routingKey, message.payloadSize(),
                System.nanoTime() + config.publishConfirmTimeout().toNanos());
    }

    private static PublishException asPublishException(String topic, String what, CourierException e) {
        if (e instanceof PublishException pe) {
            return pe;
        }
        return new PublishException(topic, "cannot publish " + what + " to topic '" + topic + "': " + e.getMessage(), e);
    }

    private void ensureOpen() {
        if (closed || connection.isClosed()) {
            throw new TransportClosedException("RabbitMQ publisher is closed");
        }
    }

    /** Fails overdue confirms; called periodically by the transport. */
    public void expireOverdue() {
        pool.expire(System.nanoTime());
    }

    /** Messages published and not confirmed yet. */
    public int outstanding() {
        return pool.outstanding();
    }

    /**
     * Stops accepting publishes, fails those still waiting for the connection, waits up to
     * {@code timeout} for outstanding confirms, then closes the channels (still-unconfirmed messages fail).
     */
    public void close(Duration timeout) {
        closed = true;
        waitingSender.interrupt();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            waitingSender.join(TimeUnit.NANOSECONDS.toMillis(Math.max(0, deadline - System.nanoTime())) + 1);
            while (pool.outstanding() > 0 && System.nanoTime() - deadline < 0) {
                TimeUnit.MILLISECONDS.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failWaiting();
        pool.close();
    }
}
