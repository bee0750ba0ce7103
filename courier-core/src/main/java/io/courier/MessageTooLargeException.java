package io.courier;

/** A message's payload exceeds the transport's configured maximum; it was not published. */
public class MessageTooLargeException extends PublishException {

    private final int size;
    private final int limit;

    /** A payload of {@code size} bytes refused by a limit of {@code limit} bytes. */
    public MessageTooLargeException(String topic, String messageId, int size, int limit) {
        super(topic, "message " + messageId + " to topic '" + topic + "' has a payload of " + size
                + " bytes, over the limit of " + limit + " bytes");
        this.size = size;
        this.limit = limit;
    }

    /** The payload size that was refused. */
    public int size() {
        return size;
    }

    /** The configured limit. */
    public int limit() {
        return limit;
    }
}
