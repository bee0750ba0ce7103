package io.courier.rabbitmq.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.impl.LongStringHelper;
import io.courier.Headers;
import io.courier.Message;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Courier messages to AMQP properties and back; no broker needed. */
class MessageMappingTest {

    @Test
    void wellKnownHeadersBecomeAmqpPropertiesAndCloudEventsHeadersUseTheAmqpBindingNames() {
        Message m = Message.builder().id("id-1").key("k")
                .header(Headers.CONTENT_TYPE, "application/json")
                .header(Headers.CORRELATION_ID, "c-1")
                .header(Headers.EVENT_TYPE, "order.created")
                .header("plain", "v")
                .timestamp(Instant.parse("2024-01-02T03:04:05.678Z"))
                .build();
        AMQP.BasicProperties p = MessageMapping.toProperties(m, true, Map.of(MessageMapping.ATTEMPT, 2));
        assertThat(p.getMessageId()).isEqualTo("id-1");
        assertThat(p.getContentType()).isEqualTo("application/json");
        assertThat(p.getCorrelationId()).isEqualTo("c-1");
        assertThat(p.getDeliveryMode()).isEqualTo(2);
        assertThat(p.getTimestamp().toInstant()).isEqualTo(Instant.parse("2024-01-02T03:04:05.678Z"));
        assertThat(p.getHeaders()).containsEntry("cloudEvents:type", "order.created")
                .containsEntry("plain", "v")
                .containsEntry(MessageMapping.KEY, "k")
                .containsEntry(MessageMapping.ATTEMPT, 2)
                .doesNotContainKeys(Headers.CONTENT_TYPE, Headers.CORRELATION_ID, Headers.EVENT_TYPE);
    }

    @Test
    void deliveredMessagesMapBackAndHideBrokerAndBookkeepingHeaders() {
        Map<String, Object> headers = new HashMap<>();
        headers.put("cloudEvents:source", LongStringHelper.asLongString("/orders"));
        headers.put("cloudEvents_type", LongStringHelper.asLongString("order.paid"));
        headers.put("x-death", List.of());
        headers.put("x-delivery-count", 3L);
        headers.put(MessageMapping.ATTEMPT, 2);
        headers.put(MessageMapping.KEY, LongStringHelper.asLongString("key-9"));
        headers.put(MessageMapping.TIMESTAMP, LongStringHelper.asLongString("2024-01-02T03:04:05.678901Z"));
        headers.put("count", 7);
        AMQP.BasicProperties p = new AMQP.BasicProperties.Builder().messageId("m-1").contentType("text/plain")
                .headers(headers).build();

        Message m = MessageMapping.fromAmqp(p, "body".getBytes());
        assertThat(m.id()).isEqualTo("m-1");
        assertThat(m.key()).hasValue("key-9");
        assertThat(m.timestamp()).isEqualTo(Instant.parse("2024-01-02T03:04:05.678901Z"));
        assertThat(m.headers()).containsOnly(
                Map.entry(Headers.CONTENT_TYPE, "text/plain"),
                Map.entry(Headers.EVENT_SOURCE, "/orders"),
                Map.entry(Headers.EVENT_TYPE, "order.paid"),
                Map.entry("count", "7"));
        assertThat(MessageMapping.attemptsBefore(p)).isEqualTo(2);
        assertThat(MessageMapping.deliveryCount(p)).isEqualTo(3);
    }

    @Test
    void aForeignMessageWithoutIdOrHeadersStillMaps() {
        Message m = MessageMapping.fromAmqp(new AMQP.BasicProperties(), null);
        assertThat(m.id()).startsWith("amqp-");
        assertThat(m.payloadSize()).isZero();
        assertThat(m.headers()).isEmpty();
        assertThat(MessageMapping.attemptsBefore(new AMQP.BasicProperties())).isZero();
        assertThat(MessageMapping.deliveryCount(new AMQP.BasicProperties())).isEqualTo(-1);
    }

    @Test
    void theDueTimeIsReadFromItsHeaderAsTheBrokerDeliversItAndNotShownToHandlers() {
        Instant due = Instant.parse("2026-12-07T19:30:00.123456Z");
        AMQP.BasicProperties p = new AMQP.BasicProperties.Builder()
                .headers(Map.of(MessageMapping.DELIVER_AT, LongStringHelper.asLongString(due.toString()))).build();
        assertThat(MessageMapping.deliverAt(p)).isEqualTo(due);
        assertThat(MessageMapping.fromAmqp(p, new byte[0]).headers()).doesNotContainKey(MessageMapping.DELIVER_AT);
        assertThat(MessageMapping.deliverAt(new AMQP.BasicProperties())).isNull();
        AMQP.BasicProperties garbled = new AMQP.BasicProperties.Builder()
                .headers(Map.of(MessageMapping.DELIVER_AT, "tomorrow")).build();
        assertThat(MessageMapping.deliverAt(garbled)).isNull();
    }
}
