package io.courier.kafka.internal;

import io.courier.Message;
import io.courier.spi.IsoInstants;
import io.courier.spi.PayloadAccess;
import java.lang.invoke.MethodHandles;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Maps Courier messages to Kafka records and back, following the CloudEvents Kafka protocol binding
 * (binary mode) for names: a header {@code ce-xyz} travels as {@code ce_xyz}, the message id as
 * {@code ce_id} and the timestamp as {@code ce_time} (RFC 3339, full precision; the record timestamp
 * carries it in milliseconds too). Other headers travel under their own names, values UTF-8.
 *
 * <p>Headers named in {@link #INTERNAL} are Courier's bookkeeping on Kafka (attempt count, delay
 * routing); they never appear in a delivered message's headers. Stateless and thread-safe.
 */
public final class RecordCodec {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    /** CloudEvents id attribute, carrying {@link Message#id()}. */
    public static final String ID = "ce_id";
    /** CloudEvents time attribute, carrying {@link Message#timestamp()}. */
    public static final String TIME = "ce_time";
    /** Attempt number of the next delivery of a retried record (absent means 1). */
    public static final String ATTEMPT = "courier-attempt";
    /** Epoch millis at which a delayed record becomes deliverable. */
    public static final String DELIVER_AT = "courier-deliver-at";
    /** Epoch millis at which a record in a delay topic is due for its next hop. */
    public static final String DUE_AT = "courier-due-at";
    /** Topic a delayed record goes to once it is deliverable. */
    public static final String TARGET_TOPIC = "courier-target-topic";

    /** Kafka headers that are Courier bookkeeping, not message headers. */
    public static final Set<String> INTERNAL = Set.of(ID, TIME, ATTEMPT, DELIVER_AT, DUE_AT, TARGET_TOPIC);

    private RecordCodec() {
    }

    /**
     * The record for publishing {@code message} to {@code topic}, with {@code extra} headers (internal
     * ones, such as {@link #ATTEMPT}) added. The record timestamp is the message's, unless
     * {@code stampNow} (records Courier republishes get the current time, so that time-based retention
     * of the retry and delay topics counts from the republish).
     */
    public static ProducerRecord<byte[], byte[]> toRecord(String topic, Message message, Map<String, String> extra, boolean stampNow) {
        return toRecord(topic, null, message, extra, stampNow);
    }

    /** {@link #toRecord(String, Message, Map, boolean)} into an explicit {@code partition} (null: Kafka's partitioner decides). */
    public static ProducerRecord<byte[], byte[]> toRecord(String topic, Integer partition, Message message, Map<String, String> extra,
                                                          boolean stampNow) {
        RecordHeaders headers = new RecordHeaders();
        for (Map.Entry<String, String> h : message.headers().entrySet()) {
            String name = toKafkaName(h.getKey());
            if (INTERNAL.contains(name)) {
                continue; // reserved; the message's own id and time win
            }
            headers.add(name, h.getValue().getBytes(StandardCharsets.UTF_8));
        }
        headers.add(ID, message.id().getBytes(StandardCharsets.UTF_8));
        headers.add(TIME, IsoInstants.toAsciiBytes(message.timestamp()));
        extra.forEach((k, v) -> headers.add(k, v.getBytes(StandardCharsets.UTF_8)));
        byte[] key = message.key().map(k -> k.getBytes(StandardCharsets.UTF_8)).orElse(null);
        long timestamp = stampNow ? System.currentTimeMillis() : message.timestamp().toEpochMilli();
        // The producer copies the bytes into its batch and never changes them: no copy of our own.
        return new ProducerRecord<>(topic, partition, timestamp, key, PAYLOADS.view(message), headers);
    }

    /**
     * The message carried by {@code record}. The id is {@code ce_id}, or {@code <topic>-<partition>@<offset>}
     * for records from producers that set none (stable across redeliveries, so idempotent consumers
     * work for them too).
     *
     * @throws UnconvertibleRecordException if the key or a header value is not UTF-8, a header has no
     *                                      value, or {@code ce_time} / {@code courier-attempt} is malformed
     */
    public static Message toMessage(ConsumerRecord<byte[], byte[]> record) throws UnconvertibleRecordException {
        return decode(record).message();
    }

    /**
     * {@link #toMessage} and {@link #attempt} in one pass over the headers.
     *
     * @throws UnconvertibleRecordException as {@link #toMessage}
     */
    public static Decoded decode(ConsumerRecord<byte[], byte[]> record) throws UnconvertibleRecordException {
        Message.Builder b = Message.builder();
        if (record.key() != null) {
            b.key(utf8(record.key(), "the record key", false));
        }
        String id = null;
        Instant time = null;
        int attempt = 1;
        for (Header h : record.headers()) {
            String name = h.key();
            byte[] raw = h.value();
            if (raw == null) {
                throw new UnconvertibleRecordException("header '" + name + "' has no value");
            }
            // equals, not a switch: a switch hashes each header name, a string Kafka has just decoded.
            if (name.equals(ID)) {
                id = utf8(raw, name);
            } else if (name.equals(TIME)) {
                time = parseTime(raw);
            } else if (name.equals(ATTEMPT)) {
                attempt = parseAttempt(utf8(raw, name));
            } else {
                String value = utf8(raw, name);
                if (!INTERNAL.contains(name)) {
                    b.header(fromKafkaName(name), value);
                }
            }
        }
        b.id(id != null && !id.isBlank() ? id : record.topic() + "-" + record.partition() + "@" + record.offset());
        if (time != null) {
            b.timestamp(time);
        } else if (record.timestamp() >= 0) {
            b.timestamp(Instant.ofEpochMilli(record.timestamp()));
        }
        byte[] value = record.value();
        // The record's array, just deserialized, is read-only from here on: the message takes it as is.
        return new Decoded(PAYLOADS.build(b, value == null ? new byte[0] : value), attempt);
    }

    /**
     * A record decoded: its message and the delivery attempt it carries ({@link #ATTEMPT}, or 1).
     *
     * @param message the message
     * @param attempt the attempt, at least 1
     */
    public record Decoded(Message message, int attempt) {
    }

    /** The delivery attempt a record carries: its {@link #ATTEMPT} header, or 1. Call after {@link #toMessage}. */
    public static int attempt(ConsumerRecord<byte[], byte[]> record) {
        Header h = record.headers().lastHeader(ATTEMPT);
        if (h == null || h.value() == null) {
            return 1;
        }
        try {
            return parseAttempt(new String(h.value(), StandardCharsets.UTF_8));
        } catch (UnconvertibleRecordException e) {
            return 1;
        }
    }

    /** The value of internal header {@code name} as text, or null. */
    public static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header h = record.headers().lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** {@code ce-xyz} becomes {@code ce_xyz} (CloudEvents Kafka binding); other names are kept. */
    public static String toKafkaName(String name) {
        return name.startsWith("ce-") ? "ce_" + name.substring(3) : name;
    }

    /** {@code ce_xyz} becomes {@code ce-xyz}; other names are kept. */
    public static String fromKafkaName(String name) {
        return name.startsWith("ce_") ? "ce-" + name.substring(3) : name;
    }

    private static int parseAttempt(String value) throws UnconvertibleRecordException {
        try {
            int attempt = Integer.parseInt(value.trim());
            if (attempt < 1) {
                throw new UnconvertibleRecordException("header '" + ATTEMPT + "' must be >= 1, but was " + attempt);
            }
            return attempt;
        } catch (NumberFormatException e) {
            throw new UnconvertibleRecordException("header '" + ATTEMPT + "' must be a number, but was '" + value + "'", e);
        }
    }

    /** {@code ce_time}: canonical text parsed from the bytes; anything else through {@link #parseInstant(String)}. */
    private static Instant parseTime(byte[] raw) throws UnconvertibleRecordException {
        try {
            return IsoInstants.parse(raw);
        } catch (DateTimeParseException e) {
            return parseInstant(utf8(raw, TIME));
        }
    }

    private static Instant parseInstant(String value) throws UnconvertibleRecordException {
        Instant fast = IsoInstants.parseCanonical(value);
        if (fast != null) {
            return fast;
        }
        try {
            return Instant.parse(value.trim());
        } catch (DateTimeParseException e) {
            throw new UnconvertibleRecordException("header '" + TIME + "' must be an RFC 3339 timestamp, but was '" + value + "'", e);
        }
    }

    private static String utf8(byte[] bytes, String headerName) throws UnconvertibleRecordException {
        return utf8(bytes, headerName, true);
    }

    /** {@code bytes} as UTF-8, strictly (malformed input is refused); ASCII, the usual case, without a decoder. */
    private static String utf8(byte[] bytes, String what, boolean header) throws UnconvertibleRecordException {
        int or = 0;
        for (byte x : bytes) {
            or |= x; // no early exit: the loop vectorizes, and ASCII is the usual case
        }
        if (or >= 0) {
            // All bytes below 0x80: ASCII, so ISO-8859-1 gives the same string, by a plain copy.
            return new String(bytes, StandardCharsets.ISO_8859_1);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new UnconvertibleRecordException((header ? "the value of header '" + what + "'" : what) + " is not valid UTF-8", e);
        }
    }
}
