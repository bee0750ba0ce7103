package io.courier.jdbc.internal;

import io.courier.Message;
import io.courier.spi.PayloadAccess;
import java.lang.invoke.MethodHandles;

/** Turns stored columns back into a {@link Message}. */
final class Rows {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    private Rows() {
    }

    static Message message(String messageId, String key, String headersJson, byte[] payload, long timestampNs) {
        // The driver's array is ours alone: the message takes it without a copy.
        return PAYLOADS.build(Message.builder()
                .id(messageId)
                .key(key)
                .headers(HeadersJson.read(headersJson))
                .timestamp(OutgoingMessage.fromNanos(timestampNs)), payload == null ? new byte[0] : payload);
    }
}
