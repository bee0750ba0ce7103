package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The factories, accessors and value semantics of {@link PublishResult}. */
class PublishResultTest {

    @Test
    void factoriesSetTheFieldsAndEqualityCoversAllOfThem() {
        PublishResult plain = PublishResult.of("m1", "orders");
        PublishResult placed = PublishResult.of("m1", "orders", "0@42");
        assertThat(plain.messageId()).isEqualTo("m1");
        assertThat(plain.topic()).isEqualTo("orders");
        assertThat(plain.position()).isEmpty();
        assertThat(placed.position()).contains("0@42");
        assertThat(placed).isEqualTo(PublishResult.of("m1", "orders", "0@42"))
                .hasSameHashCodeAs(PublishResult.of("m1", "orders", "0@42"))
                .isNotEqualTo(plain)
                .isNotEqualTo(PublishResult.of("m2", "orders", "0@42"))
                .isNotEqualTo(PublishResult.of("m1", "payments", "0@42"));
        assertThat(placed.toString()).contains("m1", "orders", "0@42");
        assertThatThrownBy(() -> PublishResult.of(null, "orders")).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> PublishResult.of("m1", null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> PublishResult.of("m1", "orders", null)).isInstanceOf(NullPointerException.class);
    }
}
