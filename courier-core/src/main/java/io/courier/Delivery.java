package io.courier;

import io.courier.spi.Settings;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One delivery of a message to a handler: the message, where it came from, which attempt this is,
 * and how the handler (or a middleware) asks for a different settlement than a plain acknowledgement.
 *
 * <p>A delivery is handled by one thread at a time; its methods are not meant for concurrent use.
 */
public interface Delivery {

    /** The message delivered. */
    Message message();

    /** The topic it was published to. */
    String topic();

    /** The consumer group receiving it. */
    String group();

    /**
     * Which delivery attempt this is, starting at 1. It grows with every redelivery of the message
     * to this group: after a handler failure, a {@link #retryAfter retry}, or a lease that expired
     * because a consumer died.
     */
    int attempt();

    /**
     * Asks the transport to deliver this message again after {@code delay} instead of acknowledging
     * it, with {@code headers} added to (or replacing) the message's headers. Takes effect only if
     * the handler then returns normally; the retry is durable (it survives a crash as the message
     * did) and does not hold back other messages. A later call replaces an earlier one.
     *
     * @throws IllegalArgumentException when {@code delay} is negative or over 365 days, or a header
     *                                  name is empty (as {@link RetryRequest} checks)
     */
    void retryAfter(Duration delay, Map<String, String> headers);

    /** The retry requested by {@link #retryAfter}, if any. */
    Optional<RetryRequest> retryRequest();

    /**
     * Records that a middleware has stored this message in a dead-letter topic. The message is then
     * acknowledged on the source topic when the handler returns normally; listeners hear
     * {@code onDeadLettered}.
     */
    void markDeadLettered(String deadLetterTopic, String reason);

    /** The dead-lettering recorded by {@link #markDeadLettered}, if any. */
    Optional<DeadLetterMark> deadLettered();

    /**
     * Where and why a middleware dead-lettered a delivery.
     *
     * @param topic  the dead-letter topic the message was stored in
     * @param reason a short reason, e.g. {@code max-attempts} or {@code non-retryable}
     */
    record DeadLetterMark(String topic, String reason) {
        /** Validates. */
        public DeadLetterMark {
            Objects.requireNonNull(topic, "topic");
            Objects.requireNonNull(reason, "reason");
        }
    }

    /**
     * A request to deliver the message again later.
     *
     * @param delay   how long to wait: 0 .. {@link #MAX_DELAY}
     * @param headers headers to add to or replace on the redelivered message; names not empty
     */
    record RetryRequest(Duration delay, Map<String, String> headers) {

        /** The longest retry delay: 365 days. */
        public static final Duration MAX_DELAY = Duration.ofDays(365);

        /** Validates and copies. */
        public RetryRequest {
            Settings.between(delay, Duration.ZERO, MAX_DELAY, "retry delay");
            headers = Map.copyOf(headers);
            if (headers.containsKey("")) {
                throw new IllegalArgumentException("retry header name must not be empty, but was ''");
            }
        }
    }
}
