package io.courier;

/**
 * A publish did not become durable: the broker refused it, did not confirm it in time, or could
 * not be reached. When a publish future completes with this exception the message may or may not
 * have been stored (a confirm can be lost after the broker stored it); it was never reported as
 * published. Publishing again is safe with idempotent consumers.
 */
public class PublishException extends CourierException {

    private final String topic;

    /** A failure to publish to {@code topic}. */
    public PublishException(String topic, String message) {
        super(message);
        this.topic = topic;
    }

    /** A failure to publish to {@code topic}, with its cause. */
    public PublishException(String topic, String message, Throwable cause) {
        super(message, cause);
        this.topic = topic;
    }

    /** The topic the publish was for. */
    public String topic() {
        return topic;
    }
}
