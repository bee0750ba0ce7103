package io.courier.middleware;

import io.courier.Message;
import io.courier.spi.BasicDelivery;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;

/** Test data: deliveries of one message at a chosen attempt, and a fixed clock. */
final class TestDeliveries {

    static final String TOPIC = "orders";
    static final String GROUP = "billing";
    static final Instant NOW = Instant.parse("2030-01-02T03:04:05Z");
    static final Clock FIXED_CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

    private TestDeliveries() {
    }

    static Message message(String id) {
        return Message.builder().id(id).key("customer-7").payload("{\"order\":42}".getBytes()).build();
    }

    static BasicDelivery delivery(Message message, int attempt) {
        return new BasicDelivery(message, TOPIC, GROUP, attempt);
    }

    static BasicDelivery delivery(int attempt) {
        return delivery(message("msg-1"), attempt);
    }
}
