package io.courier;

import java.util.Objects;
import java.util.Optional;

/**
 * What a transport reports once a message is durable.
 *
 * @param messageId the id of the published message
 * @param topic     the topic it was published to
 * @param position  where the transport stored it, when it has such a notion (a Kafka
 *                  {@code partition@offset}, a Redis stream entry id, a SQL row id); empty otherwise
 */
public record PublishResult(String messageId, String topic, Optional<String> position) {

    /** Validates the components. */
    public PublishResult {
        Objects.requireNonNull(messageId, "messageId");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(position, "position");
    }

    /** A result with no position. */
    public static PublishResult of(String messageId, String topic) {
        return new PublishResult(messageId, topic, Optional.empty());
    }

    /** A result with a transport-specific position. */
    public static PublishResult of(String messageId, String topic, String position) {
        return new PublishResult(messageId, topic, Optional.of(position));
    }
}
