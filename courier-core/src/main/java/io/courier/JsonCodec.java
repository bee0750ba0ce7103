package io.courier;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.util.Objects;

/**
 * JSON through Jackson. Records, {@code java.time} types and ordinary beans work out of the box;
 * polymorphic type information is never read from the payload (no gadget-chain deserialization).
 *
 * <p>What {@link #defaults()} accepts when decoding:
 * <ul>
 *   <li>unknown properties are ignored, so producers can add fields;</li>
 *   <li>one JSON value and nothing after it: {@code {"id":"t","qty":4} garbage} fails;</li>
 *   <li>a record component (or creator parameter) of a primitive type is required: absent or
 *       {@code null}, it fails instead of becoming {@code 0} or {@code false}; a component of a
 *       reference type ({@code Integer}, {@code String}, a record, ...) that is absent is {@code null},
 *       so declare optional values with reference types and check required ones in the record's
 *       compact constructor; a bean's field that is absent keeps its initial value;</li>
 *   <li>a value of the wrong type ({@code "qty":"x"}) or malformed JSON fails.</li>
 * </ul>
 * Every failure is a {@link DecodingException} naming the type, the payload size, where in the JSON
 * it failed and why.
 *
 * <p>Thread-safe. Use {@link #defaults()} or pass your own configured {@link ObjectMapper} (whose
 * settings then decide all of the above).
 */
public final class JsonCodec implements Codec {

    /** The media type this codec writes. */
    public static final String CONTENT_TYPE = "application/json";

    private static final JsonCodec DEFAULT = new JsonCodec(JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            // Also covers an absent primitive creator parameter (a record component): Jackson passes it null.
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
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
            throw new DecodingException("cannot decode " + payload.length + "-byte payload as "
                    + type.getName() + ": " + detail(e), e);
        }
    }

    /** What went wrong and where: the JSON path of a value that does not fit, the position of malformed JSON. */
    private static String detail(IOException e) {
        if (e instanceof JsonMappingException jme && !jme.getPath().isEmpty()) {
            String path = path(jme);
            if (jme instanceof MismatchedInputException mie && mie.getTargetType() != null
                    && mie.getTargetType().isPrimitive() && String.valueOf(jme.getOriginalMessage()).startsWith("Cannot map `null`")) {
                return path + " is missing or null, but its type is " + mie.getTargetType().getName()
                        + " (use a reference type such as " + boxed(mie.getTargetType()) + " for an optional value)";
            }
            return jme.getOriginalMessage() + " (at " + path + ")";
        }
        if (e instanceof JsonProcessingException jpe) {
            JsonLocation at = jpe.getLocation();
            String where = at == null ? "" : " (at line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
            String what = String.valueOf(jpe.getOriginalMessage());
            return (what.startsWith("Trailing token") ? "unexpected content after the JSON value" : what) + where;
        }
        return e.toString();
    }

    /** {@code $.lines[1].qty} for a failure inside the second element of {@code lines}. */
    private static String path(JsonMappingException e) {
        StringBuilder path = new StringBuilder("$");
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                path.append('.').append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                path.append('[').append(r.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    private static String boxed(Class<?> primitive) {
        return primitive == int.class ? "Integer" : primitive == char.class ? "Character"
                : Character.toUpperCase(primitive.getName().charAt(0)) + primitive.getName().substring(1);
    }
}
