package io.courier;

/**
 * A message is larger than the transport's configured maximum ({@code maxPayloadBytes}, checked
 * before anything is sent), or than the broker accepts (the broker refused it, e.g. Kafka's
 * {@code max.message.bytes} of the topic or RabbitMQ's {@code max_message_size}). Either way it was
 * not published. A {@link PublishRefusedException}: sending it again fails the same way.
 */
public class MessageTooLargeException extends PublishRefusedException {

    /** {@link #limit()} when the broker refused the message without saying its limit. */
    public static final int UNKNOWN_LIMIT = -1;

    private final int size;
    private final int limit;

    /** A payload of {@code size} bytes refused by a limit of {@code limit} bytes. */
    public MessageTooLargeException(String topic, String messageId, int size, int limit) {
        super(topic, "message " + messageId + " to topic '" + topic + "' has a payload of " + size
                + " bytes, over the limit of " + limit + " bytes");
        this.size = size;
        this.limit = limit;
    }

    /**
     * A message the broker refused as too large, described by {@code description}: a payload of
     * {@code size} bytes over the broker's limit of {@code limit} bytes ({@link #UNKNOWN_LIMIT} when the
     * broker did not say), with the broker's error as {@code cause}.
     */
    public MessageTooLargeException(String topic, String description, int size, int limit, Throwable cause) {
        super(topic, description, cause);
        this.size = size;
        this.limit = limit;
    }

    /** The payload size that was refused. */
    public int size() {
        return size;
    }

    /**
     * The limit that refused it, in bytes: the transport's configured maximum, or the broker's limit
     * ({@link #UNKNOWN_LIMIT} when the broker did not say it). A broker's limit may count more than
     * the payload (headers, record framing).
     */
    public int limit() {
        return limit;
    }
}
