package io.courier.redis.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.Message;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The entry layout, without Redis. */
class EntryCodecTest {

    @Test
    void encodesAndDecodesEveryPartOfAMessage() {
        byte[] payload = new byte[256];
        for (int i = 0; i < 256; i++) {
            payload[i] = (byte) i;
        }
        Message m = Message.builder().key("k").header("a", "1").header("b", "2").payload(payload)
                .timestamp(Instant.parse("2020-01-02T03:04:05.000000006Z")).build();
        Instant failedAt = Instant.parse("2021-01-01T00:00:00Z");

        EntryCodec.Decoded d = EntryCodec.decode("1-0", toMap(EntryCodec.encode(m, 3, failedAt)));

        assertThat(d.message()).isEqualTo(m);
        assertThat(d.firstAttempt()).isEqualTo(3);
        assertThat(d.firstFailure()).contains(failedAt);
    }

    @Test
    void headerNamesCannotCollideWithCourierFields() {
        Message m = Message.builder().header("id", "not-the-id").header("payload", "not-the-payload").payload(new byte[] {1}).build();
        EntryCodec.Decoded d = EntryCodec.decode("1-0", toMap(EntryCodec.encode(m, 1, null)));
        assertThat(d.message()).isEqualTo(m);
    }

    @Test
    void entriesFromOtherProducersDecodeLeniently() {
        Map<byte[], byte[]> body = new LinkedHashMap<>();
        body.put(bytes("payload"), bytes("hello"));
        body.put(bytes("source"), bytes("legacy"));

        EntryCodec.Decoded d = EntryCodec.decode("1700000000123-4", body);

        assertThat(d.message().id()).isEqualTo("1700000000123-4");
        assertThat(d.message().timestamp()).isEqualTo(Instant.ofEpochMilli(1700000000123L));
        assertThat(d.message().payloadAsText()).isEqualTo("hello");
        assertThat(d.message().headers()).containsExactly(Map.entry("source", "legacy"));
        assertThat(d.firstAttempt()).isEqualTo(1);
    }

    @Test
    void sortedSetMemberIsANonceThenLengthPrefixedParts() {
        byte[] member = EntryCodec.member(List.of(bytes("f"), new byte[] {':', 0, '9'}));
        String text = new String(member, StandardCharsets.ISO_8859_1);
        assertThat(text).matches("36:[0-9a-f-]{36}1:f3::\u00009");
        assertThat(EntryCodec.member(List.of(bytes("f"), bytes("v")))).isNotEqualTo(EntryCodec.member(List.of(bytes("f"), bytes("v"))));
    }

    @Test
    void timestampsReadFromBytesMatchInstantParse() {
        java.util.Random random = new java.util.Random(42);
        for (int i = 0; i < 10_000; i++) {
            long seconds = random.nextLong() % 253_402_300_799L;   // years 0001..9999 and negative years
            int nanos = switch (i % 4) {
                case 0 -> 0;
                case 1 -> random.nextInt(1000) * 1_000_000;
                case 2 -> random.nextInt(1_000_000) * 1000;
                default -> random.nextInt(1_000_000_000);
            };
            Instant t = Instant.ofEpochSecond(seconds, nanos);
            assertThat(EntryCodec.parseTimestamp(bytes(t.toString()))).as(t.toString()).isEqualTo(t);
        }
        for (String odd : List.of("2020-01-02T03:04:05.1Z", "+12020-01-02T03:04:05Z", "2020-02-30T03:04:05Z",
                "2020-01-02T24:00:00Z", "2020-01-02T24:04:05Z", "2020-01-02T03:04:60Z", "2020-01-02T03:04:05.Z",
                "2020-01-02T03:04:05.1234567890Z", "2020-01-0xT03:04:05Z", "2020-01-02T03:04:05+01:00", "yesterday", "")) {
            assertThat(EntryCodec.parseTimestamp(bytes(odd))).as(odd).isEqualTo(instantParseOrNull(odd));
        }
        assertThat(EntryCodec.parseTimestamp(bytes("2020-02-30T03:04:05Z"))).isNull();
    }

    private static Instant instantParseOrNull(String s) {
        try {
            return Instant.parse(s);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private static Map<byte[], byte[]> toMap(List<byte[]> fields) {
        Map<byte[], byte[]> map = new LinkedHashMap<>();
        for (int i = 0; i < fields.size(); i += 2) {
            map.put(fields.get(i), fields.get(i + 1));
        }
        return map;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
