package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import io.courier.BatchPublishException;
import io.courier.CourierException;
import io.courier.DelayedPublisher;
import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.TransportClosedException;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.spi.Payloads;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The RabbitMQ publisher: persistent messages, {@code mandatory} routing, publisher confirms tracked
 * by delivery tag on a pool of channels, and delayed delivery through the {@link DelayLadder}.
 *
 * <p>A publish blocks the calling thread only while it waits for a free channel, for a lost
 * connection to recover (at most {@link RabbitMqConfig#recoveryTimeout()}) or for the broker to stop
 * blocking publishers (at most {@link RabbitMqConfig#publishConfirmTimeout()}); then it hands the
 * message to the channel and returns a future that completes when the broker confirms it. Thread-safe.
 */
public final class RabbitPublisher implements DelayedPublisher {

    private final RabbitMqConfig config;
    private final ConnectionWatch connection;
    private final Topology topology;
    private final ChannelPool pool;
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
    }

    @Override
    public CompletableFuture<PublishResult> publish(String topic, Message message) {
        return publishAfter(topic, message, Duration.ZERO);
    }

    @Override
    public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
        Objects.requireNonNull(deliverAt, "deliverAt");
        return publishAfter(topic, message, Duration.between(Instant.now(), deliverAt));
    }

    /**
     * Publishes {@code message} to be delivered after {@code delay}, rounded up to a multiple of
     * {@link DelayLadder#TICK}; zero or negative means now.
     *
     * @throws IllegalArgumentException when the delay exceeds {@link DelayLadder#MAX_DELAY}
     */
    @Override
    public CompletableFuture<PublishResult> publishAfter(String topic, Message message, Duration delay) {
        Payloads.checkTopic(topic);
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(delay, "delay");
        ensureOpen();
        Payloads.checkSize(topic, message, config.maxPayloadBytes());
        if (delay.compareTo(DelayLadder.MAX_DELAY) > 0) {
            throw new IllegalArgumentException("delay must be at most " + DelayLadder.MAX_DELAY + " on RabbitMQ, but was " + delay);
        }
        try {
            awaitConnection(topic, "message " + message.id());
            Topology.Route route = topology.topicRoute(topic);
            if (delay.isNegative() || delay.isZero()) {
                return send(topic, message, route.exchange(), route.routingKey(), Map.of());
            }
            DelayLadder.Hop hop = topology.ladder().route(delay, topology.delayedTopicToken(topic));
            return send(topic, message, hop.exchange(), hop.routingKey(),
                    Map.of(MessageMapping.DELIVER_AT, Instant.now().plus(hop.delay()).toString()));
        } catch (CourierException e) {
            return CompletableFuture.failedFuture(asPublishException(topic, message, e));
        }
    }

    /**
     * Publishes a copy of {@code message} into one consumer group's {@code queue} only (not to the
     * other groups of the topic), after {@code delay}, recording that {@code attemptsSoFar} attempts
     * were made. Used to settle failed and retried deliveries.
     */
    public CompletableFuture<PublishResult> redeliver(String topic, String queue, Message message, Duration delay, int attemptsSoFar) {
        ensureOpen();
        Map<String, Object> extra = new HashMap<>();
        extra.put(MessageMapping.ATTEMPT, attemptsSoFar);
        try {
            DelayLadder.Hop hop = topology.ladder().route(delay.compareTo(DelayLadder.MAX_DELAY) > 0 ? DelayLadder.MAX_DELAY : delay,
                    DelayLadder.queueToken(queue));
            if (hop == null) {
                return send(topic, message, "", queue, extra);
            }
            awaitConnection(topic, "message " + message.id());
            topology.ensureLadder();
            extra.put(MessageMapping.DELIVER_AT, Instant.now().plus(hop.delay()).toString());
            return send(topic, message, hop.exchange(), hop.routingKey(), extra);
        } catch (CourierException e) {
            return CompletableFuture.failedFuture(asPublishException(topic, message, e));
        }
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
        Topology.Route route;
        try {
            awaitConnection(topic, "a batch of " + messages.size() + " messages");
            route = topology.topicRoute(topic);
        } catch (CourierException e) {
            PublishException failure = new PublishException(topic, "cannot publish to topic '" + topic + "': " + e.getMessage(), e);
            for (Message m : messages) {
                futures.add(CompletableFuture.failedFuture(failure));
            }
            return combine(topic, messages, futures);
        }
        long deadline = System.nanoTime() + config.recoveryTimeout().toNanos();
        PublisherChannel pc = null;
        try {
            for (Message m : messages) {
                Objects.requireNonNull(m, "message");
                if (m.payloadSize() > config.maxPayloadBytes()) {
                    futures.add(CompletableFuture.failedFuture(
                            new io.courier.MessageTooLargeException(topic, m.id(), m.payloadSize(), config.maxPayloadBytes())));
                    continue;
                }
                AMQP.BasicProperties props = MessageMapping.toProperties(m, config.durable(), Map.of());
                byte[] body = m.payload();
                boolean sent = false;
                if (pc == null) {
                    try {
                        pc = acquire(topic, m.id(), deadline);
                    } catch (PublishException e) {
                        futures.add(CompletableFuture.failedFuture(e));
                        continue;
                    }
                }
                PendingConfirm p = pending(topic, m.id(), route.exchange(), route.routingKey());
                sent = pc.send(p, props, body);
                if (sent) {
                    futures.add(p.future);
                } else {
                    // the channel went down mid-batch: give it back and let the single-message path wait for recovery
                    pool.release(pc);
                    pc = null;
                    futures.add(send(topic, m, route.exchange(), route.routingKey(), Map.of()));
                }
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
            List<PublishResult> results = new ArrayList<>(futures.size());
            List<BatchPublishException.Outcome> outcomes = new ArrayList<>(futures.size());
            boolean failed = false;
            for (int i = 0; i < futures.size(); i++) {
                CompletableFuture<PublishResult> f = futures.get(i);
                try {
                    PublishResult r = f.join();
                    results.add(r);
                    outcomes.add(BatchPublishException.Outcome.published(r));
                } catch (CompletionException e) {
                    failed = true;
                    outcomes.add(BatchPublishException.Outcome.failed(messages.get(i).id(), e.getCause()));
                }
            }
            if (failed) {
                throw new CompletionException(new BatchPublishException(topic, outcomes));
            }
            return List.copyOf(results);
        });
    }

    private CompletableFuture<PublishResult> send(String topic, Message message, String exchange, String routingKey,
                                                  Map<String, Object> extraHeaders) {
        AMQP.BasicProperties props = MessageMapping.toProperties(message, config.durable(), extraHeaders);
        byte[] body = message.payload();
        long deadline = System.nanoTime() + config.recoveryTimeout().toNanos();
        try {
            while (true) {
                PublisherChannel pc = acquire(topic, message.id(), deadline);
                try {
                    PendingConfirm p = pending(topic, message.id(), exchange, routingKey);
                    if (pc.send(p, props, body)) {
                        return p.future;
                    }
                } finally {
                    pool.release(pc);
                }
                if (System.nanoTime() - deadline > 0) {
                    throw notRecovered(topic, "message " + message.id());
                }
                // the channel closed under us: the connection is going down; wait for it to recover
                TimeUnit.MILLISECONDS.sleep(10);
            }
        } catch (PublishException e) {
            return CompletableFuture.failedFuture(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CompletableFuture.failedFuture(new PublishException(topic, "interrupted while publishing message "
                    + message.id() + " to topic '" + topic + "'; it was not sent"));
        }
    }

    /**
     * Waits up to the recovery timeout for an open connection before declaring topology, so a publish
     * during a recovery waits instead of failing on the declaration.
     */
    private void awaitConnection(String topic, String what) {
        if (connection.isOpen()) {
            return;
        }
        try {
            if (!connection.awaitOpen(System.nanoTime() + config.recoveryTimeout().toNanos())) {
                ensureOpen();
                throw notRecovered(topic, what);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PublishException(topic, "interrupted while waiting for the connection to RabbitMQ to recover");
        }
    }

    private PendingConfirm pending(String topic, String id, String exchange, String routingKey) {
        return new PendingConfirm(topic, id, exchange, routingKey, System.nanoTime() + config.publishConfirmTimeout().toNanos());
    }

    /** Waits for an open, unblocked connection and a free channel. */
    private PublisherChannel acquire(String topic, String messageId, long recoveryDeadline) throws InterruptedException {
        while (true) {
            ensureOpen();
            if (!connection.awaitOpen(recoveryDeadline)) {
                ensureOpen();
                throw notRecovered(topic, "message " + messageId);
            }
            String blocked = connection.blockedReason();
            if (blocked != null && !connection.awaitUnblocked(System.nanoTime() + config.publishConfirmTimeout().toNanos())) {
                throw new PublishException(topic, "cannot publish message " + messageId + " to topic '" + topic
                        + "': RabbitMQ is blocking publishers (" + blocked + ": a memory or disk alarm) and did not unblock within "
                        + config.publishConfirmTimeout() + " (publishConfirmTimeout); the message was not sent");
            }
            PublisherChannel pc = pool.borrow(topic, System.nanoTime() + config.publishConfirmTimeout().toNanos());
            if (pc != null) {
                return pc;
            }
            if (System.nanoTime() - recoveryDeadline > 0) {
                throw notRecovered(topic, "message " + messageId);
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
    }

    private PublishException notRecovered(String topic, String what) {
        return new PublishException(topic, "cannot publish " + what + " to topic '" + topic
                + "': the connection to RabbitMQ is down and did not recover within " + config.recoveryTimeout()
                + " (recoveryTimeout); the message was not sent");
    }

    private static PublishException asPublishException(String topic, Message message, CourierException e) {
        if (e instanceof PublishException pe) {
            return pe;
        }
        return new PublishException(topic, "cannot publish message " + message.id() + " to topic '" + topic + "': " + e.getMessage(), e);
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
     * Stops accepting publishes, waits up to {@code timeout} for outstanding confirms, then closes the
     * channels (still-unconfirmed messages fail).
     */
    public void close(Duration timeout) {
        closed = true;
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (pool.outstanding() > 0 && System.nanoTime() - deadline < 0) {
                TimeUnit.MILLISECONDS.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.close();
    }
}
