package io.courier.spi;

import io.courier.Message;
import io.courier.MessageTooLargeException;

/** Checks shared by every transport's publisher. */
public final class Payloads {

    private Payloads() {
    }

    /**
     * Throws {@link MessageTooLargeException} when {@code message}'s payload is over {@code limit} bytes.
     */
    public static void checkSize(String topic, Message message, int limit) {
        if (message.payloadSize() > limit) {
            throw new MessageTooLargeException(topic, message.id(), message.payloadSize(), limit);
        }
    }

    /** Throws {@link IllegalArgumentException} when {@code topic} is null, blank or too long. */
    public static void checkTopic(String topic) {
        if (topic == null || topic.isBlank()) {
            throw new IllegalArgumentException("topic must not be blank, but was '" + topic + "'");
        }
        if (topic.length() > 200) {
            throw new IllegalArgumentException("topic must be at most 200 characters, but was " + topic.length());
        }
    }
}
