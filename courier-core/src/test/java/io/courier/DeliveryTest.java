package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.spi.BasicDelivery;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeliveryTest {

    private final Delivery delivery = new BasicDelivery(Message.ofText("x"), "t", "g", 1);

    /**
     * Checked when the handler asks, so the handler's own call fails: a header with an empty name
     * used to fail later, when the transport rebuilt the message to store the retry.
     */
    @Test
    void aRetryWithAnEmptyHeaderNameOrAnOutOfRangeDelayIsRejectedWhenRequested() {
        assertThatThrownBy(() -> delivery.retryAfter(Duration.ofSeconds(1), Map.of("", "v")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retry header name must not be empty, but was ''");
        assertThatThrownBy(() -> delivery.retryAfter(Duration.ofMillis(-1), Map.of()))
                .hasMessage("retry delay must be between PT0S and PT8760H, but was PT-0.001S");
        assertThatThrownBy(() -> delivery.retryAfter(Duration.ofSeconds(Long.MAX_VALUE), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("retry delay must be between");
        assertThat(delivery.retryRequest()).isEmpty();

        delivery.retryAfter(Delivery.RetryRequest.MAX_DELAY, Map.of("h", ""));
        assertThat(delivery.retryRequest()).hasValueSatisfying(r -> assertThat(r.delay()).isEqualTo(Duration.ofDays(365)));
    }
}
