package io.courier.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TopicNamesTest {

    @Test
    void derivedNamesAreLegalKafkaTopicNames() {
        assertThat(TopicNames.retryTopic("orders", "billing")).isEqualTo("orders.billing.retry");
        assertThat(TopicNames.retryTopic("orders", "billing/eu west")).isEqualTo("orders.billing_eu_west.retry");
        assertThat(TopicNames.deadLetterTopic("orders")).isEqualTo("orders.dlq");
        String longName = TopicNames.retryTopic("t".repeat(200), "g".repeat(200));
        assertThat(longName).hasSize(TopicNames.MAX_LENGTH).endsWith(".retry");
        assertThat(longName).isNotEqualTo(TopicNames.retryTopic("t".repeat(200), "g".repeat(199) + "h"));
        TopicNames.requireLegal(longName);
    }

    @Test
    void illegalNamesAreRefusedWithTheReason() {
        assertThatThrownBy(() -> TopicNames.requireLegal("a/b")).hasMessageContaining("contains '/'");
        assertThatThrownBy(() -> TopicNames.requireLegal("..")).hasMessageContaining("must not be '.' or '..'");
        assertThatThrownBy(() -> TopicNames.requireLegal("x".repeat(250))).hasMessageContaining("at most 249 characters");
    }
}
