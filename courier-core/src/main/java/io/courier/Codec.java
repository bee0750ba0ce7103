package io.courier;

/**
 * Turns typed values into payload bytes and back.
 *
 * <p>Implementations must be thread-safe. They must not use Java serialization: payloads are read
 * by other processes and other languages, and deserializing untrusted Java objects is a remote
 * code execution hole. The default is {@link JsonCodec}.
 */
public interface Codec {

    /** The media type written in the {@link Headers#CONTENT_TYPE} header, e.g. {@code application/json}. */
    String contentType();

    /**
     * Encodes a value.
     *
     * @throws CourierException if the value cannot be encoded (the message names its class)
     */
    byte[] encode(Object value);

    /**
     * Decodes a payload.
     *
     * @throws DecodingException if the bytes are not a valid {@code type}
     */
    <T> T decode(byte[] payload, Class<T> type);
}
