package io.courier.jdbc.internal;

import io.courier.Message;

/** Turns stored columns back into a {@link Message}. */
final class Rows {

    private Rows() {
    }

    static Message message(String messageId, String key, String headersJson, byte[] payload, long timestampNs) {
        return Message.builder()
                .id(messageId)
                .key(key)
                .headers(HeadersJson.read(headersJson))
                .payload(payload == null ? new byte[0] : payload)
                .timestamp(OutgoingMessage.fromNanos(timestampNs))
                .build();
    }
}
