package io.courier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.util.Objects;

/**
 * JSON through Jackson. Records, {@code java.time} types and ordinary beans work out of the box;
 * unknown properties are ignored (so producers can add fields), polymorphic type information is
 * never read from the payload (no gadget-chain deserialization).
 *
 * <p>Thread-safe. Use {@link #defaults()} or pass your own configured {@link ObjectMapper}.
 */
public final class JsonCodec implements Codec {

    /** The media type this codec writes. */
    public static final String CONTENT_TYPE = "application/json";

    private static final JsonCodec DEFAULT = new JsonCodec(JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .build());

    private final ObjectMapper mapper;

    /** A codec over the given mapper (not copied: do not reconfigure it afterwards). */
    public JsonCodec(ObjectMapper mapper) {
        this.mapper = Objects.requireNonNull(mapper, "mapper");
    }

    /** The shared default codec. */
    public static JsonCodec defaults() {
        return DEFAULT;
    }

    @Override
    public String contentType() {
        return CONTENT_TYPE;
    }

    @Override
    public byte[] encode(Object value) {
        try {
            return mapper.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new CourierException("cannot encode " + (value == null ? "null" : value.getClass().getName())
                    + " as JSON: " + e.getOriginalMessage(), e);
        }
    }

    @Override
    public <T> T decode(byte[] payload, Class<T> type) {
        try {
            T value = mapper.readValue(payload, type);
            if (value == null) {
                throw new DecodingException("payload is JSON null, expected " + type.getName(), null);
            }
            return value;
        } catch (IOException e) {
            String detail = e instanceof JsonProcessingException jpe ? jpe.getOriginalMessage() : e.getMessage();
            throw new DecodingException("cannot decode " + payload.length + "-byte payload as "
                    + type.getName() + ": " + detail, e);
        }
    }
}
