package io.courier;

import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * One message: an id, an optional key, string headers, an opaque byte payload and a timestamp.
 *
 * <p>Messages are immutable and safe to share between threads. The payload array is copied on
 * the way in and on the way out, so no caller can change a message after it was built. Build one
 * with {@link #builder()}, or {@link #of(byte[])} for the common case:
 *
 * <pre>{@code
 * Message m = Message.builder()
 *     .key("order-42")                       // same key -> same partition / ordering unit
 *     .header("content-type", "application/json")
 *     .payload(bytes)
 *     .build();                              // id and timestamp are filled in when absent
 * }</pre>
 *
 * <p>The {@linkplain #id() id} is what idempotent consumers and dead-letter tooling key on: it is
 * kept unchanged across redeliveries, retries and dead-lettering. Typed payloads go through a
 * {@link Codec}; Courier never uses Java serialization.
 *
 * <p>{@link Builder#build()} rejects an empty key (leave the key unset for none) and an empty header
 * name. Messages a transport receives from other producers may carry either (an empty Kafka record
 * key, an AMQP header named {@code ""}): a received message has no key then, and headers with an
 * empty name are left out, so that every message satisfies the builder's rules and can be copied,
 * retried and dead-lettered.
 */
public final class Message {

    private static final byte[] NO_BYTES = new byte[0];

    private final String id;
    private final String key;
    private final Map<String, String> headers;
    private final byte[] payload;
    private final Instant timestamp;

    static {
        // Transports read and adopt payload arrays without copies through the SPI (see PayloadAccess).
        io.courier.spi.PayloadAccess.install(java.lang.invoke.MethodHandles.lookup(), new io.courier.spi.PayloadAccess.Bridge() {
            @Override
            public byte[] payload(Message message) {
                return message.payload;
            }

            @Override
            public Message build(Builder builder, byte[] payload) {
                return new Message(builder, payload, true);
            }
        });
    }

    private Message(Builder b) {
        this(b, b.payload.clone(), false);
    }

    /**
     * @param received true for a message a transport received (see the class comment): an empty key
     *                 or header name is dropped instead of rejected
     */
    private Message(Builder b, byte[] payload, boolean received) {
        this.id = b.id != null ? b.id : MessageIds.next();
        boolean emptyKey = b.key != null && b.key.isEmpty();
        if (emptyKey && !received) {
            throw new IllegalArgumentException("message key must not be empty (leave it unset for no key), but was ''");
        }
        this.key = emptyKey ? null : b.key;
        boolean emptyHeaderName = b.headers != null && b.headers.containsKey("");
        if (emptyHeaderName && !received) {
            throw new IllegalArgumentException("header name must not be empty, but was ''");
        }
        // Most messages have no headers: share the empty map instead of keeping two objects per message.
        Map<String, String> copy = b.headers == null || b.headers.isEmpty() ? null : new LinkedHashMap<>(b.headers);
        if (emptyHeaderName) {
            copy.remove("");
        }
        this.headers = copy == null || copy.isEmpty() ? Collections.emptyMap() : Collections.unmodifiableMap(copy);
        this.payload = payload;
        this.timestamp = b.timestamp != null ? b.timestamp : Instant.now();
    }

    /** A message with a generated id, no key, no headers and the given payload. */
    public static Message of(byte[] payload) {
        return builder().payload(payload).build();
    }

    /** A message whose payload is the UTF-8 encoding of {@code text}. */
    public static Message ofText(String text) {
        return builder().payload(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)).build();
    }

    /** A new builder with no id (one is generated at {@link Builder#build()}), no key, no headers. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this message's values, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.id = id;
        b.key = key;
        if (!headers.isEmpty()) {
            b.headers = new LinkedHashMap<>(headers);
        }
        b.payload = payload;
        b.timestamp = timestamp;
        return b;
    }

    /** The unique id; never null. */
    public String id() {
        return id;
    }

    /** The ordering / partitioning key, if one was set. */
    public Optional<String> key() {
        return Optional.ofNullable(key);
    }

    /** The headers, unmodifiable; never null. */
    public Map<String, String> headers() {
        return headers;
    }

    /** One header's value, if present. */
    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name));
    }

    /** A copy of the payload bytes. */
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload size in bytes, without copying it. */
    public int payloadSize() {
        return payload.length;
    }

    /** The payload decoded as UTF-8 text. */
    public String payloadAsText() {
        return new String(payload, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** When the message was created (set by the builder when not given). */
    public Instant timestamp() {
        return timestamp;
    }

    /** A copy of this message with one header added or replaced. */
    public Message withHeader(String name, String value) {
        return toBuilder().header(name, value).build();
    }

    /** A copy of this message with the given headers added or replaced. */
    public Message withHeaders(Map<String, String> extra) {
        return toBuilder().headers(extra).build();
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) return true;
        if (!(o instanceof Message m)) return false;
        return id.equals(m.id) && Objects.equals(key, m.key) && headers.equals(m.headers)
                && Arrays.equals(payload, m.payload) && timestamp.equals(m.timestamp);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, key, headers, Arrays.hashCode(payload), timestamp);
    }

    @Override
    public String toString() {
        return "Message{id=" + id + (key != null ? ", key=" + key : "") + ", headers=" + headers
                + ", payload=" + payload.length + " bytes, timestamp=" + timestamp + '}';
    }

    /** Builds a {@link Message}. Not thread-safe. */
    public static final class Builder {
        private String id;
        private String key;
        private Map<String, String> headers;   // created by the first header: most messages have none
        private byte[] payload = NO_BYTES;
        private Instant timestamp;

        private Builder() {
        }

        /**
         * Sets the id; must not be blank. When never called, a new time-ordered UUID (version 7: the
         * creation millisecond, then 74 random bits) is used.
         */
        public Builder id(String id) {
            Objects.requireNonNull(id, "id");
            if (id.isBlank()) {
                throw new IllegalArgumentException("message id must not be blank");
            }
            this.id = id;
            return this;
        }

        /**
         * Sets the ordering / partitioning key; {@code null} clears it. An empty key is rejected by
         * {@link #build()}.
         */
        public Builder key(String key) {
            this.key = key;
            return this;
        }

        /**
         * Adds or replaces a header. Names and values must not be null; values may be empty, an empty
         * name is rejected by {@link #build()}.
         */
        public Builder header(String name, String value) {
            Objects.requireNonNull(name, "header name");
            Objects.requireNonNull(value, () -> "value of header '" + name + "'");
            if (headers == null) {
                headers = new LinkedHashMap<>();
            }
            headers.put(name, value);
            return this;
        }

        /** Adds or replaces every header in the map. */
        public Builder headers(Map<String, String> values) {
            values.forEach(this::header);
            return this;
        }

        /** Removes a header if present. */
        public Builder removeHeader(String name) {
            if (headers != null) {
                headers.remove(name);
            }
            return this;
        }

        /** Sets the payload; the array is copied when the message is built. */
        public Builder payload(byte[] payload) {
            this.payload = Objects.requireNonNull(payload, "payload");
            return this;
        }

        /** Sets the creation time; when never called, {@link Instant#now()} at build time. */
        public Builder timestamp(Instant timestamp) {
            this.timestamp = Objects.requireNonNull(timestamp, "timestamp");
            return this;
        }

        /**
         * Builds the immutable message.
         *
         * @throws IllegalArgumentException when the key or a header name is empty
         */
        public Message build() {
            return new Message(this);
        }
    }
}
