package io.courier;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Publishes messages to topics.
 *
 * <p><b>Durability.</b> The returned future completes normally only once the transport has made the
 * message durable to the degree its guarantees promise: a committed SQL transaction, a RabbitMQ
 * publisher confirm, a Kafka {@code acks=all} acknowledgement, a Redis {@code XADD} reply. It
 * completes exceptionally with a {@link PublishException} (or a subclass such as
 * {@link MessageTooLargeException}) otherwise; never silently.
 *
 * <p><b>Thread safety.</b> Implementations are thread-safe: any number of threads may publish at
 * once. Methods do not block on I/O longer than it takes to hand the message to the transport; wait
 * on the future for the outcome.
 *
 * <p>Validation errors that need no I/O (a blank topic, an oversize payload, a closed transport) may
 * be thrown directly instead of through the future.
 *
 * @see DelayedPublisher for delayed and scheduled delivery
 */
public interface Publisher {

    /** Publishes one message to {@code topic}. */
    CompletableFuture<PublishResult> publish(String topic, Message message);

    /**
     * Publishes several messages to {@code topic}. The future completes once every message is durable,
     * with one result per message in the given order. If any message fails, the future completes
     * exceptionally with a {@link BatchPublishException} that reports each message's outcome (unless
     * the transport's documentation says the batch is atomic, in which case none was published).
     */
    CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages);
}
