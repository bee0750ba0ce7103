package io.courier.spi;

import io.courier.Delivery;
import io.courier.Message;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@link Delivery} that transports hand to handlers. Transports create one per delivery and,
 * after the handler returns, read {@link #retryRequest()} and {@link #deadLettered()} through
 * {@link HandlerInvoker}. Not thread-safe (a delivery is handled by one thread at a time).
 */
public final class BasicDelivery implements Delivery {

    private final Message message;
    private final String topic;
    private final String group;
    private final int attempt;
    private volatile RetryRequest retryRequest;
    private volatile DeadLetterMark deadLettered;

    /**
     * A delivery of {@code message} from {@code topic} to {@code group}, attempt {@code attempt} (1-based).
     */
    public BasicDelivery(Message message, String topic, String group, int attempt) {
        this.message = Objects.requireNonNull(message, "message");
        this.topic = Objects.requireNonNull(topic, "topic");
        this.group = Objects.requireNonNull(group, "group");
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be >= 1, but was " + attempt);
        }
        this.attempt = attempt;
    }

    @Override
    public Message message() {
        return message;
    }

    @Override
    public String topic() {
        return topic;
    }

    @Override
    public String group() {
        return group;
    }

    @Override
    public int attempt() {
        return attempt;
    }

    @Override
    public void retryAfter(Duration delay, Map<String, String> headers) {
        this.retryRequest = new RetryRequest(delay, headers);
    }

    @Override
    public Optional<RetryRequest> retryRequest() {
        return Optional.ofNullable(retryRequest);
    }

    @Override
    public void markDeadLettered(String deadLetterTopic, String reason) {
        this.deadLettered = new DeadLetterMark(deadLetterTopic, reason);
    }

    @Override
    public Optional<DeadLetterMark> deadLettered() {
        return Optional.ofNullable(deadLettered);
    }

    @Override
    public String toString() {
        return "Delivery{topic=" + topic + ", group=" + group + ", attempt=" + attempt + ", message=" + message.id() + '}';
    }
}
