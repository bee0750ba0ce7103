package io.courier.tasks;

import io.courier.Codec;
import io.courier.JsonCodec;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A unit of work: a type name that selects the handler, and a payload of bytes.
 *
 * <pre>{@code
 * record Email(String to, String subject) {}
 * Task task = Task.ofJson("email:deliver", new Email("ada@example.com", "Welcome"));
 * client.enqueue(task, TaskOptions.builder().maxRetry(3).timeout(Duration.ofMinutes(5)).build());
 * }</pre>
 *
 * <p>Immutable and thread-safe: the payload is copied in and out. Payloads are opaque bytes; the
 * JSON helpers go through a core {@link Codec} ({@link JsonCodec} by default) and never through
 * Java serialization.
 */
public final class Task {

    /** Longest accepted type name. */
    public static final int MAX_TYPE_LENGTH = 200;

    private final String type;
    private final byte[] payload;

    private Task(String type, byte[] payload) {
        this.type = requireType(type);
        this.payload = Objects.requireNonNull(payload, "payload").clone();
    }

    /**
     * A task with raw payload bytes (copied).
     *
     * @throws IllegalArgumentException if the type is blank or longer than {@value #MAX_TYPE_LENGTH}
     */
    public static Task of(String type, byte[] payload) {
        return new Task(type, payload);
    }

    /** A task with no payload. */
    public static Task of(String type) {
        return new Task(type, new byte[0]);
    }

    /** A task whose payload is {@code text} in UTF-8. */
    public static Task ofText(String type, String text) {
        return new Task(type, Objects.requireNonNull(text, "text").getBytes(StandardCharsets.UTF_8));
    }

    /** A task whose payload is {@code value} as JSON through {@link JsonCodec#defaults()}. */
    public static Task ofJson(String type, Object value) {
        return ofJson(type, value, JsonCodec.defaults());
    }

    /**
     * A task whose payload is {@code value} encoded by {@code codec}.
     *
     * @throws io.courier.CourierException if the codec cannot encode the value
     */
    public static Task ofJson(String type, Object value, Codec codec) {
        return new Task(type, Objects.requireNonNull(codec, "codec").encode(value));
    }

    /** The task type, e.g. {@code email:deliver}. */
    public String type() {
        return type;
    }

    /** A copy of the payload bytes. */
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload size in bytes. */
    public int payloadSize() {
        return payload.length;
    }

    /** The payload decoded as UTF-8 text. */
    public String payloadText() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    /**
     * The payload decoded by {@link JsonCodec#defaults()}.
     *
     * @throws io.courier.DecodingException if the payload is not a valid {@code type}
     */
    public <T> T payloadAs(Class<T> type) {
        return payloadAs(type, JsonCodec.defaults());
    }

    /**
     * The payload decoded by {@code codec}.
     *
     * @throws io.courier.DecodingException if the payload is not a valid {@code type}
     */
    public <T> T payloadAs(Class<T> type, Codec codec) {
        return Objects.requireNonNull(codec, "codec").decode(payload, type);
    }

    static String requireType(String type) {
        Objects.requireNonNull(type, "type");
        if (type.isBlank()) {
            throw new IllegalArgumentException("task type must not be blank");
        }
        if (type.length() > MAX_TYPE_LENGTH) {
            throw new IllegalArgumentException("task type must be at most " + MAX_TYPE_LENGTH
                    + " characters, but was " + type.length());
        }
        return type;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Task t && t.type.equals(type) && Arrays.equals(t.payload, payload);
    }

    @Override
    public int hashCode() {
        return 31 * type.hashCode() + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        String preview = payload.length <= 32 ? HexFormat.of().formatHex(payload)
                : HexFormat.of().formatHex(payload, 0, 32) + "...";
        return "Task[type=" + type + ", payload=" + payload.length + " bytes " + preview + "]";
    }
}
