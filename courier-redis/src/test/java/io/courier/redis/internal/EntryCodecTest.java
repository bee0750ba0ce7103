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
