package io.courier;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * Capability: delayed and scheduled delivery. A transport whose publisher implements this interface
 * keeps a published message invisible to consumers until its delivery time.
 *
 * <p>Contract: a message becomes deliverable no earlier than its delivery time and, while consumers
 * keep up, soon after it (each transport documents its precision). A long delay never holds back a
 * shorter one published after it: there is no head-of-line blocking. The returned future completes
 * when the delayed message is durable, as for {@link Publisher#publish}.
 */
public interface DelayedPublisher extends Publisher {

    /** Publishes {@code message} to be delivered no earlier than {@code deliverAt}. A past time means now. */
    CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt);

    /** Publishes {@code message} to be delivered after {@code delay}; zero or negative means now. */
    default CompletableFuture<PublishResult> publishAfter(String topic, Message message, Duration delay) {
        return publishAt(topic, message, Instant.now().plus(delay.isNegative() ? Duration.ZERO : delay));
    }
}
