package io.courier.kafka;

import io.courier.CourierException;

/**
 * A topic exists with fewer partitions than the transport is configured to require
 * ({@link KafkaConfig#partitionsFor(String)}). Courier does not add partitions by itself, because
 * that moves keys to other partitions and breaks their order; add them deliberately (for example
 * with {@code kafka-topics.sh --alter --partitions}) or configure the count the topic has.
 */
public class TopicPartitionsException extends CourierException {

    private final String topic;
    private final int actual;
    private final int required;

    /** Topic {@code topic} has {@code actual} partitions where {@code required} are needed. */
    public TopicPartitionsException(String topic, int actual, int required) {
        super("topic '" + topic + "' has " + actual + " partition" + (actual == 1 ? "" : "s") + ", but at least "
                + required + " are required (KafkaConfig partitions); add partitions to the topic or configure "
                + "partitions(\"" + topic + "\", " + actual + ")");
        this.topic = topic;
        this.actual = actual;
        this.required = required;
    }

    /** The topic. */
    public String topic() {
        return topic;
    }

    /** The partition count the topic has. */
    public int actual() {
        return actual;
    }

    /** The partition count required. */
    public int required() {
        return required;
    }
}
