package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import io.courier.Headers;
import io.courier.Message;
import io.courier.PublishResult;
import io.courier.middleware.DeadLetterMiddleware;
import io.courier.spi.Outcome;
import io.courier.spi.engine.Fetched;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles the deliveries of one consumer queue, the same way for every kind of subscription: an ack
 * after the handler returned; a retry or failure as a copy published into the same queue through the
 * delay ladder and the original acknowledged only once the copy is confirmed (never nack-requeue in a
 * hot loop; if the copy cannot be published, the original goes back to the queue). Acks and nacks of
 * one queue's channel are serialized here. Also turns a delivery into the engine's {@link Fetched}
 * record ({@link #fetched}), with its attempt and, for one that arrived before it is due, the time
 * until which it must be held ({@link #holdUntil}). Thread-safe.
 */
final class QueueSettler {

    private static final Logger log = LoggerFactory.getLogger(QueueSettler.class);

    /** {@link Headers#DEAD_LETTER_REASON} of a delivery that could not be read as a Courier message. */
    static final String REASON_UNDECODABLE = "undecodable";

    private final RabbitPublisher publisher;
    private final String topic;
    private final String group;
    private final String queue;

    QueueSettler(RabbitPublisher publisher, String topic, String group, String queue) {
        this.publisher = publisher;
        this.topic = topic;
        this.group = group;
        this.queue = queue;
    }

    /**
     * Dead-letters delivery {@code tag} on {@code ch}, which could not be read as a Courier message
     * ({@code cause}): publishes what can be kept of it ({@link MessageMapping#undecodable}) to
     * {@code <topic>.dlq}, as {@link io.courier.middleware.DeadLetterMiddleware} does, with the reason
     * {@value #REASON_UNDECODABLE}, the group, the topic and the exception in headers, and acknowledges
     * the delivery once the broker confirmed the copy. Never a handler, never a redelivery loop; if the
     * copy cannot be published (no group on the dead-letter topic, the broker refuses), the delivery is
     * left unacknowledged and logged at ERROR, and the broker delivers it again only when the channel
     * closes. Does not block.
     */
    void deadLetterUndecodable(Channel ch, long tag, AMQP.BasicProperties properties, byte[] body, RuntimeException cause) {
        String deadLetterTopic = topic + DeadLetterMiddleware.DEFAULT_SUFFIX;
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(Headers.DEAD_LETTER_REASON, REASON_UNDECODABLE);
        headers.put(Headers.DEAD_LETTER_GROUP, group);
        headers.put(Headers.ORIGINAL_TOPIC, topic);
        headers.put(Headers.EXCEPTION_CLASS, cause.getClass().getName());
        headers.put(Headers.EXCEPTION_MESSAGE, String.valueOf(cause.getMessage()));
        Message copy;
        try {
            copy = MessageMapping.undecodable(properties, body, headers);
        } catch (RuntimeException e) {
            log.error("cannot read delivery {} of queue '{}' as a message ({}) nor dead-letter it ({}); leaving it "
                    + "unacknowledged", tag, queue, cause.toString(), e.toString());
            return;
        }
        CompletableFuture<PublishResult> published;
        try {
            published = publisher.publish(deadLetterTopic, copy);
        } catch (RuntimeException e) {
            published = CompletableFuture.failedFuture(e);
        }
        published.whenComplete((result, error) -> {
            if (error == null) {
                ack(ch, tag);
                log.warn("dead-lettered delivery {} of queue '{}' (message {}) to '{}': it cannot be read as a message ({})",
                        tag, queue, copy.id(), deadLetterTopic, cause.toString());
            } else {
                log.error("cannot read delivery {} of queue '{}' as a message ({}) nor dead-letter it to '{}' ({}); "
                        + "leaving it unacknowledged", tag, queue, cause.toString(), deadLetterTopic, error.toString());
            }
        });
    }

    /** The 1-based attempt of a delivery: attempts recorded by earlier copies, plus the broker's redeliveries. */
    static int attempt(Envelope envelope, AMQP.BasicProperties properties) {
        int redeliveries = MessageMapping.deliveryCount(properties);
        if (redeliveries < 0) {
            redeliveries = envelope.isRedeliver() ? 1 : 0;
        }
        return MessageMapping.attemptsBefore(properties) + 1 + redeliveries;
    }

    /**
     * Until when a delivery must be held before its handler starts (it arrived before the due time in
     * its {@link MessageMapping#DELIVER_AT} header, see {@link DelayLadder}), or null to start it now.
     */
    static Instant holdUntil(AMQP.BasicProperties properties) {
        Instant due = MessageMapping.deliverAt(properties);
        return due == null ? null : DelayLadder.holdUntil(due, Instant.now());
    }

    /**
     * The engine's record of a delivery: the decoded message, its attempt, and when it arrived before it
     * is due, the epoch millisecond (rounded up) before which it must not start.
     *
     * @throws RuntimeException when the delivery cannot be read as a Courier message
     */
    static <R> Fetched<R> fetched(R record, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
        Fetched<R> f = Fetched.of(record, MessageMapping.fromAmqp(properties, body), attempt(envelope, properties));
        Instant hold = holdUntil(properties);
        if (hold == null) {
            return f;
        }
        long millis = hold.toEpochMilli();
        // never start before the exact due time: round a sub-millisecond rest up
        return f.notBefore(hold.getNano() % 1_000_000 == 0 ? millis : millis + 1);
    }

    /** Settles delivery {@code tag} of {@code message} (attempt {@code attempt}) on {@code ch} as {@code outcome} says. */
    void settle(Channel ch, long tag, Message message, int attempt, Outcome outcome) {
        if (outcome instanceof Outcome.Ack) {
            ack(ch, tag);
        } else if (outcome instanceof Outcome.Retry r) {
            redeliver(ch, tag, r.apply(message), r.delay(), attempt);
        } else if (outcome instanceof Outcome.Failed f) {
            redeliver(ch, tag, message, f.redeliveryDelay(), attempt);
        }
    }

    private void redeliver(Channel ch, long tag, Message message, Duration delay, int attempt) {
        try {
            publisher.redeliver(topic, queue, message, delay, attempt).join();
            ack(ch, tag);
        } catch (RuntimeException e) {
            log.warn("cannot schedule redelivery of message {} on queue '{}' ({}); returning it to the queue",
                    message.id(), queue, e.getMessage());
            synchronized (this) {
                try {
                    if (ch.isOpen()) {
                        ch.basicNack(tag, false, true);
                    }
                } catch (IOException | ShutdownSignalException ex) {
                    log.debug("nack of {} failed; the broker redelivers it when the channel closes", tag, ex);
                }
            }
        }
    }

    private void ack(Channel ch, long tag) {
        synchronized (this) {
            try {
                if (ch.isOpen()) {
                    ch.basicAck(tag, false);
                }
            } catch (IOException | ShutdownSignalException e) {
                // the channel closed: the broker redelivers the message, at-least-once
                log.debug("ack of {} on queue '{}' failed; it will be redelivered", tag, queue, e);
            }
        }
    }
}
