package io.courier;

/**
 * Starts consumers. Every consumer group receives every message of a topic; consumers in one group
 * compete, each message going to one of them. Delivery is at-least-once: a message is acknowledged
 * only after its handler returned normally, and a consumer that dies before acking has its messages
 * delivered again once their lease expires.
 *
 * <p>Thread-safe. Most code subscribes through a {@link Router}, which adds middleware.
 */
public interface Subscriber {

    /**
     * Starts consuming with {@code options}, calling {@code handler} for each delivery. Returns once
     * the subscription is registered with the transport (its group exists), so messages published
     * after this returns are received by the group.
     *
     * @throws TransportClosedException if the transport is closed
     */
    Subscription subscribe(SubscriptionOptions options, Handler handler);

    /** Subscribes with default options. */
    default Subscription subscribe(String topic, String group, Handler handler) {
        return subscribe(SubscriptionOptions.of(topic, group), handler);
    }
}
