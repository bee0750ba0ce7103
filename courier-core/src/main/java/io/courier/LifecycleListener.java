package io.courier;

import java.time.Duration;

/**
 * Hears what happens to messages: published, delivered, acked, failed, retried, dead-lettered.
 * Metrics and tracing bind here, not in middleware. Every method has an empty default.
 *
 * <p>Methods are called synchronously on the thread doing the work, so they must be fast and
 * thread-safe. An exception thrown by a listener is logged and otherwise ignored: it never changes
 * how a message is settled.
 */
public interface LifecycleListener {

    /** A listener that does nothing. */
    LifecycleListener NONE = new LifecycleListener() {
    };

    /** A message became durable on {@code topic}. */
    default void onPublished(String topic, Message message, PublishResult result) {
    }

    /** A publish failed. */
    default void onPublishFailed(String topic, Message message, Throwable error) {
    }

    /** A delivery reached the router, before any middleware. */
    default void onDelivered(Delivery delivery) {
    }

    /** The handler chain returned normally and the message is being acknowledged. */
    default void onAcked(Delivery delivery, Duration handlingTime) {
    }

    /** The handler threw (whether or not a middleware then retried or dead-lettered the message). */
    default void onFailed(Delivery delivery, Throwable error, Duration handlingTime) {
    }

    /** The message was rescheduled for another attempt after {@code delay}. */
    default void onRetried(Delivery delivery, Duration delay) {
    }

    /** The message was stored in {@code deadLetterTopic} and is being acknowledged on its source topic. */
    default void onDeadLettered(Delivery delivery, String deadLetterTopic, String reason) {
    }
}
