package io.courier.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.MessageTooLargeException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InMemoryTransportBuilderTest {

    @Test
    void thePayloadLimitIsBounded() {
        assertThatThrownBy(() -> InMemoryTransport.builder().maxPayloadBytes(Integer.MAX_VALUE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPayloadBytes must be between 1 and 67108864, but was 2147483647");
        assertThatThrownBy(() -> InMemoryTransport.builder().maxPayloadBytes(0))
                .hasMessage("maxPayloadBytes must be between 1 and 67108864, but was 0");
    }

    @Test
    void aPayloadOfTheLargestAcceptedLimitIsDelivered() {
        try (InMemoryTransport t = InMemoryTransport.builder().maxPayloadBytes(InMemoryTransport.MAX_PAYLOAD_BYTES_LIMIT).build()) {
            AtomicInteger size = new AtomicInteger();
            t.subscriber().subscribe("big", "g", d -> size.set(d.message().payloadSize()));

            t.publisher().publish("big", Message.of(new byte[InMemoryTransport.MAX_PAYLOAD_BYTES_LIMIT])).join();

            await().atMost(Duration.ofSeconds(10)).until(() -> size.get() == InMemoryTransport.MAX_PAYLOAD_BYTES_LIMIT);
            assertThatThrownBy(() -> t.publisher().publish("big", Message.of(new byte[InMemoryTransport.MAX_PAYLOAD_BYTES_LIMIT + 1])))
                    .isInstanceOf(MessageTooLargeException.class);
        }
    }
}
