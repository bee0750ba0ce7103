package io.courier.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.Message;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

class RecordCodecTest {

    @Test
    void messageSurvivesTheRoundTripThroughARecord() throws Exception {
        Message m = Message.builder().key("k").header("ce-type", "t").header("x-a", "ü").payload(new byte[] {1, 2})
                .timestamp(Instant.parse("2024-01-01T00:00:00.123456Z")).build();
        ProducerRecord<byte[], byte[]> r = RecordCodec.toRecord("orders", m, Map.of(RecordCodec.ATTEMPT, "3"), false);
        assertThat(r.headers().lastHeader("ce_type")).isNotNull();
        assertThat(r.headers().lastHeader("ce-type")).isNull();
        assertThat(r.timestamp()).isEqualTo(m.timestamp().toEpochMilli());

        ConsumerRecord<byte[], byte[]> back = consumed(r.key(), r.value(), r.headers());
        assertThat(RecordCodec.toMessage(back)).isEqualTo(m);
        assertThat(RecordCodec.attempt(back)).isEqualTo(3);
    }

    @Test
    void recordsFromOtherProducersGetAStableIdAndTheRecordTimestamp() throws Exception {
        ConsumerRecord<byte[], byte[]> r = consumed(null, null, new RecordHeaders());
        Message m = RecordCodec.toMessage(r);
        assertThat(m.id()).isEqualTo("orders-2@17");
        assertThat(m.timestamp()).isEqualTo(Instant.ofEpochMilli(1_700_000_000_000L));
        assertThat(m.key()).isEmpty();
        assertThat(m.payloadSize()).isZero();
        assertThat(RecordCodec.attempt(r)).isEqualTo(1);
    }

    @Test
    void unconvertibleRecordsSayWhy() {
        assertThatThrownBy(() -> RecordCodec.toMessage(consumed(new byte[] {(byte) 0xff}, null, new RecordHeaders())))
                .isInstanceOf(UnconvertibleRecordException.class).hasMessage("the record key is not valid UTF-8");
        assertThatThrownBy(() -> RecordCodec.toMessage(consumed(null, null, headers("h", null))))
                .hasMessage("header 'h' has no value");
        assertThatThrownBy(() -> RecordCodec.toMessage(consumed(null, null, headers(RecordCodec.ATTEMPT, "zero"))))
                .hasMessage("header 'courier-attempt' must be a number, but was 'zero'");
        assertThatThrownBy(() -> RecordCodec.toMessage(consumed(null, null, headers(RecordCodec.ATTEMPT, "0"))))
                .hasMessage("header 'courier-attempt' must be >= 1, but was 0");
        assertThatThrownBy(() -> RecordCodec.toMessage(consumed(null, null, headers("ce_time", "soon"))))
                .hasMessage("header 'ce_time' must be an RFC 3339 timestamp, but was 'soon'");
    }

    @Test
    void decodeReadsTheAttemptInTheSamePass() throws Exception {
        RecordHeaders h = headers(RecordCodec.ATTEMPT, "4");
        h.add("ce_time", "2024-01-01T00:00:00.000000001Z".getBytes(StandardCharsets.UTF_8));
        h.add("x-ü", "wert ü".getBytes(StandardCharsets.UTF_8));
        RecordCodec.Decoded d = RecordCodec.decode(consumed("k".getBytes(StandardCharsets.UTF_8), new byte[] {7}, h));
        assertThat(d.attempt()).isEqualTo(4);
        assertThat(d.message().timestamp()).isEqualTo(Instant.parse("2024-01-01T00:00:00.000000001Z"));
        assertThat(d.message().headers()).containsExactly(Map.entry("x-ü", "wert ü"));
        assertThat(d.message().key()).contains("k");
        assertThatThrownBy(() -> RecordCodec.decode(consumed(null, null, new RecordHeaders().add("h", new byte[] {(byte) 0xc3}))))
                .hasMessage("the value of header 'h' is not valid UTF-8");
    }

    @Test
    void cloudEventsNamesMapBothWays() {
        assertThat(RecordCodec.toKafkaName("ce-specversion")).isEqualTo("ce_specversion");
        assertThat(RecordCodec.toKafkaName("content-type")).isEqualTo("content-type");
        assertThat(RecordCodec.fromKafkaName("ce_source")).isEqualTo("ce-source");
        assertThat(RecordCodec.fromKafkaName("traceparent")).isEqualTo("traceparent");
    }

    private static RecordHeaders headers(String name, String value) {
        RecordHeaders h = new RecordHeaders();
        h.add(name, value == null ? null : value.getBytes(StandardCharsets.UTF_8));
        return h;
    }

    private static ConsumerRecord<byte[], byte[]> consumed(byte[] key, byte[] value, org.apache.kafka.common.header.Headers headers) {
        return new ConsumerRecord<>("orders", 2, 17, 1_700_000_000_000L, TimestampType.CREATE_TIME, -1, -1, key, value,
                headers, Optional.empty());
    }
}
