package io.courier.redis.internal;

import io.courier.Message;
import io.courier.spi.IsoInstants;
import io.courier.spi.PayloadAccess;
import java.io.ByteArrayOutputStream;
import java.lang.invoke.MethodHandles;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * How a {@link Message} is laid out as the fields of a stream entry, and back.
 *
 * <pre>
 *   id        the message id                     key      the key, when set
 *   ts        the timestamp, ISO-8601            payload  the payload, raw bytes
 *   h:NAME    one field per header               attempt  first attempt number of a retry entry (absent = 1)
 *   first-failure  when handling first failed (retry entries only)
 * </pre>
 *
 * The payload is written as the bytes given, never through a string. Entries written by other
 * programs decode leniently: a missing id becomes the entry id, a missing timestamp the entry id's
 * time, and every field Courier does not know becomes a header of the same name.
 */
public final class EntryCodec {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    static final String ID = "id";
    static final String KEY = "key";
    static final String TIMESTAMP = "ts";
    static final String PAYLOAD = "payload";
    static final String ATTEMPT = "attempt";
    static final String FIRST_FAILURE = "first-failure";
    static final String HEADER_PREFIX = "h:";
    private static final byte[] ID_BYTES = bytes(ID);
    private static final byte[] TIMESTAMP_BYTES = bytes(TIMESTAMP);
    private static final byte[] PAYLOAD_BYTES = bytes(PAYLOAD);
    private static final byte[] KEY_BYTES = bytes(KEY);

    private EntryCodec() {
    }

    /**
     * A message read back from an entry.
     *
     * @param message      the message
     * @param firstAttempt the attempt number of this entry's first delivery (1 unless it is a retry)
     * @param firstFailure when handling first failed, for retry entries
     */
    public record Decoded(Message message, int firstAttempt, Optional<Instant> firstFailure) {
    }

    /** The fields of an entry holding {@code message}: name, value, name, value, ... */
    public static List<byte[]> encode(Message message, int attempt, Instant firstFailure) {
        List<byte[]> fields = new ArrayList<>(10 + 2 * message.headers().size());
        fields.add(ID_BYTES);
        fields.add(bytes(message.id()));
        String key = message.key().orElse(null);
        if (key != null) {
            fields.add(KEY_BYTES);
            fields.add(bytes(key));
        }
        fields.add(TIMESTAMP_BYTES);
        fields.add(IsoInstants.toAsciiBytes(message.timestamp()));
        if (!message.headers().isEmpty()) {
            message.headers().forEach((name, value) -> add(fields, HEADER_PREFIX + name, value));
        }
        if (attempt > 1) {
            add(fields, ATTEMPT, Integer.toString(attempt));
        }
        if (firstFailure != null) {
            add(fields, FIRST_FAILURE, firstFailure.toString());
        }
        fields.add(PAYLOAD_BYTES);
        fields.add(PAYLOADS.view(message));   // Lettuce only writes it out
        return fields;
    }


    /** Decodes the fields of entry {@code entryId}. */
    public static Decoded decode(String entryId, Map<byte[], byte[]> body) {
        Message.Builder b = Message.builder();
        String id = null;
        Instant timestamp = null;
        int attempt = 1;
        Instant firstFailure = null;
        byte[] payload = new byte[0];
        for (Map.Entry<byte[], byte[]> e : body.entrySet()) {
            byte[] rawName = e.getKey();
            byte[] raw = e.getValue() == null ? new byte[0] : e.getValue();
            // The fields every entry has are recognised by their bytes, without making a String of the name.
            if (Arrays.equals(rawName, PAYLOAD_BYTES)) {
                payload = raw;
                continue;
            }
            if (Arrays.equals(rawName, ID_BYTES)) {
                id = text(raw);
                continue;
            }
            if (Arrays.equals(rawName, TIMESTAMP_BYTES)) {
                timestamp = parseTimestamp(raw);
                continue;
            }
            String name = text(rawName);
            switch (name) {
                case ID -> id = text(raw);
                case KEY -> b.key(text(raw));
                case TIMESTAMP -> timestamp = parseTimestamp(raw);
                case PAYLOAD -> payload = raw;
                case ATTEMPT -> attempt = parseAttempt(text(raw));
                case FIRST_FAILURE -> firstFailure = parseInstant(text(raw));
                default -> b.header(name.startsWith(HEADER_PREFIX) ? name.substring(HEADER_PREFIX.length()) : name, text(raw));
            }
        }
        b.id(id == null || id.isBlank() ? entryId : id);
        b.timestamp(timestamp != null ? timestamp : entryTime(entryId));
        // The decoded field value is ours alone: the message takes it without a copy.
        return new Decoded(PAYLOADS.build(b, payload), attempt, Optional.ofNullable(firstFailure));
    }

    /** The raw value of the {@code key} field of an entry, or null when it has none. */
    static byte[] rawKey(Map<byte[], byte[]> body) {
        for (Map.Entry<byte[], byte[]> e : body.entrySet()) {
            if (Arrays.equals(e.getKey(), KEY_BYTES)) {
                return e.getValue();
            }
        }
        return null;
    }

    /**
     * A sorted-set member holding {@code fields}: a random nonce (so equal messages stay distinct)
     * then each field, every part written as {@code <length>:<bytes>}. The Lua mover decodes it.
     */
    public static byte[] member(List<byte[]> fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(64 + fields.stream().mapToInt(f -> f.length + 8).sum());
        writePart(out, bytes(UUID.randomUUID().toString()));
        for (byte[] f : fields) {
            writePart(out, f);
        }
        return out.toByteArray();
    }

    private static void writePart(ByteArrayOutputStream out, byte[] part) {
        out.writeBytes(bytes(Integer.toString(part.length)));
        out.write(':');
        out.writeBytes(part);
    }

    /** The millisecond time in an entry id {@code <ms>-<seq>}, or now when it has none. */
    static Instant entryTime(String entryId) {
        int dash = entryId.indexOf('-');
        try {
            return Instant.ofEpochMilli(Long.parseLong(dash < 0 ? entryId : entryId.substring(0, dash)));
        } catch (NumberFormatException e) {
            return Instant.now();
        }
    }

    /** Parses the {@code ts} field ({@link Instant#toString()} form, or any ISO-8601 instant); null when it is not one. */
    static Instant parseTimestamp(byte[] b) {
        try {
            return IsoInstants.parse(b);
        } catch (DateTimeParseException e) {
            return null;
        }
    }


    private static Instant parseInstant(String s) {
        try {
            return Instant.parse(s);
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    private static int parseAttempt(String s) {
        try {
            return Math.max(1, Integer.parseInt(s));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    static void add(List<byte[]> fields, String name, String value) {
        fields.add(bytes(name));
        fields.add(bytes(value));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
