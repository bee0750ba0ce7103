package io.courier;

/**
 * The destination refused a message for good: it was not stored, and publishing the same message
 * to the same destination again fails the same way until the message or the destination's
 * configuration changes. Examples: a payload over the broker's size limit
 * ({@link MessageTooLargeException}), a RabbitMQ message no queue is bound for (unroutable), a
 * Kafka topic name the broker rejects, a Redis key of the wrong type.
 *
 * <p>A plain {@link PublishException} is the other kind: the broker could not be reached, did not
 * confirm in time, or nacked; trying again later may succeed. The outbox's relay parks a message
 * after a refusal and retries it after any other failure.
 */
public class PublishRefusedException extends PublishException {

    /** A refusal of a message to {@code topic}. */
    public PublishRefusedException(String topic, String message) {
        super(topic, message);
    }

    /** A refusal of a message to {@code topic}, with the broker's error as {@code cause}. */
    public PublishRefusedException(String topic, String message, Throwable cause) {
        super(topic, message, cause);
    }
}
