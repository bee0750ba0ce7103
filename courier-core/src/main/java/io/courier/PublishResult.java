package io.courier;

import java.util.Objects;
import java.util.Optional;

/**
 * What a transport reports once a message is durable. Immutable.
 *
 * <p>Transports create one with the {@code of} factories. This is a class rather than a record so
 * that a new figure (a broker timestamp, say) can be added without changing how existing transports
 * create it.
 */
public final class PublishResult {

    private final String messageId;
    private final String topic;
    private final Optional<String> position;

    private PublishResult(String messageId, String topic, Optional<String> position) {
        this.messageId = Objects.requireNonNull(messageId, "messageId");
        this.topic = Objects.requireNonNull(topic, "topic");
        this.position = position;
    }

    /** A result with no position. */
    public static PublishResult of(String messageId, String topic) {
        return new PublishResult(messageId, topic, Optional.empty());
    }

    /** A result with a transport-specific position (not null). */
    public static PublishResult of(String messageId, String topic, String position) {
        return new PublishResult(messageId, topic, Optional.of(Objects.requireNonNull(position, "position")));
    }

    /** The id of the published message. */
    public String messageId() {
        return messageId;
    }

    /** The topic it was published to. */
    public String topic() {
        return topic;
    }

    /**
     * Where the transport stored it, when it has such a notion (a Kafka {@code partition@offset}, a
     * Redis stream entry id, a SQL row id); empty otherwise.
     */
    public Optional<String> position() {
        return position;
    }

    /** Equal when the message id, topic and position are equal. */
    @Override
    public boolean equals(Object o) {
        return o instanceof PublishResult r && messageId.equals(r.messageId) && topic.equals(r.topic)
                && position.equals(r.position);
    }

    /** A hash of the message id, topic and position. */
    @Override
    public int hashCode() {
        return Objects.hash(messageId, topic, position);
    }

    /** The message id, topic and position. */
    @Override
    public String toString() {
        return "PublishResult[messageId=" + messageId + ", topic=" + topic + ", position=" + position + "]";
    }
}
