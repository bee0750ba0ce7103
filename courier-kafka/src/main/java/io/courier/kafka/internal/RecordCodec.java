package io.courier.kafka.internal;

import io.courier.Message;
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
        headers.add(TIME, instantBytes(message.timestamp()));
        extra.forEach((k, v) -> headers.add(k, v.getBytes(StandardCharsets.UTF_8)));
        byte[] key = message.key().map(k -> k.getBytes(StandardCharsets.UTF_8)).orElse(null);
        long timestamp = stampNow ? System.currentTimeMillis() : message.timestamp().toEpochMilli();
        return new ProducerRecord<>(topic, partition, timestamp, key, message.payload(), headers);
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
            switch (name) {
                case ID -> id = utf8(raw, name);
                case TIME -> time = parseInstant(utf8(raw, name));
                case ATTEMPT -> attempt = parseAttempt(utf8(raw, name));
                default -> {
                    String value = utf8(raw, name);
                    if (!INTERNAL.contains(name)) {
                        b.header(fromKafkaName(name), value);
                    }
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
        b.payload(value == null ? new byte[0] : value);
        return new Decoded(b.build(), attempt);
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

    private static Instant parseInstant(String value) throws UnconvertibleRecordException {
        Instant fast = parseCanonicalInstant(value);
        if (fast != null) {
            return fast;
        }
        try {
            return Instant.parse(value.trim());
        } catch (DateTimeParseException e) {
            throw new UnconvertibleRecordException("header '" + TIME + "' must be an RFC 3339 timestamp, but was '" + value + "'", e);
        }
    }

    /** First second of year 0000 and first second after 9999: the years {@link Instant#toString()} writes with 4 digits. */
    private static final long MIN_FAST_SECOND = -62_167_219_200L;
    private static final long MAX_FAST_SECOND = 253_402_300_800L;

    /**
     * {@code t.toString()} as US-ASCII bytes, written directly for the years 0000 to 9999 (the
     * fraction as {@code Instant.toString()} writes it: none, or 3, 6 or 9 digits).
     */
    static byte[] instantBytes(Instant t) {
        long seconds = t.getEpochSecond();
        if (seconds < MIN_FAST_SECOND || seconds >= MAX_FAST_SECOND) {
            return t.toString().getBytes(StandardCharsets.US_ASCII);
        }
        int nanos = t.getNano();
        int fraction = nanos == 0 ? 0 : nanos % 1_000_000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
        byte[] b = new byte[fraction == 0 ? 20 : 21 + fraction];
        java.time.LocalDate date = java.time.LocalDate.ofEpochDay(Math.floorDiv(seconds, 86_400));
        int secondOfDay = (int) Math.floorMod(seconds, 86_400);
        put(b, 0, date.getYear(), 4);
        b[4] = '-';
        put(b, 5, date.getMonthValue(), 2);
        b[7] = '-';
        put(b, 8, date.getDayOfMonth(), 2);
        b[10] = 'T';
        put(b, 11, secondOfDay / 3600, 2);
        b[13] = ':';
        put(b, 14, secondOfDay / 60 % 60, 2);
        b[16] = ':';
        put(b, 17, secondOfDay % 60, 2);
        if (fraction > 0) {
            b[19] = '.';
            int f = nanos;
            for (int i = fraction; i < 9; i++) {
                f /= 10;
            }
            put(b, 20, f, fraction);
        }
        b[b.length - 1] = 'Z';
        return b;
    }

    private static void put(byte[] b, int at, int value, int width) {
        for (int i = at + width - 1; i >= at; i--) {
            b[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
    }

    /**
     * {@code value} when it has the form {@link Instant#toString()} writes for years 0000 to 9999,
     * {@code yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z}, with a valid date and a second below 60; otherwise null
     * (the caller falls back to {@link Instant#parse}, which gives the same result for these strings
     * and also accepts the other ISO-8601 forms). Parsing every delivered record's {@code ce_time}
     * with a {@code DateTimeFormatter} costs more than the rest of decoding it.
     */
    static Instant parseCanonicalInstant(String v) {
        int n = v.length();
        if (n < 20 || n == 21 || n > 30 || v.charAt(4) != '-' || v.charAt(7) != '-' || v.charAt(10) != 'T'
                || v.charAt(13) != ':' || v.charAt(16) != ':' || v.charAt(n - 1) != 'Z') {
            return null;
        }
        int year = digits(v, 0, 4);
        int month = digits(v, 5, 2);
        int day = digits(v, 8, 2);
        int hour = digits(v, 11, 2);
        int minute = digits(v, 14, 2);
        int second = digits(v, 17, 2);
        if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59
                || second < 0 || second > 59) {
            return null;
        }
        int nanos = 0;
        if (n > 20) {
            if (v.charAt(19) != '.') {
                return null;
            }
            int fraction = n - 21;
            int f = digits(v, 20, fraction);
            if (f < 0) {
                return null;
            }
            nanos = f;
            for (int i = fraction; i < 9; i++) {
                nanos *= 10;
            }
        }
        if (day > java.time.YearMonth.of(year, month).lengthOfMonth()) {
            return null;
        }
        long epochDay = java.time.LocalDate.of(year, month, day).toEpochDay();
        return Instant.ofEpochSecond(epochDay * 86_400 + hour * 3600L + minute * 60L + second, nanos);
    }

    /** The {@code count} decimal digits at {@code from} as a number, or -1 when one is not a digit. */
    private static int digits(String s, int from, int count) {
        int r = 0;
        for (int i = from; i < from + count; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            r = r * 10 + (c - '0');
        }
        return r;
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
