package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class JsonCodecTest {

    record Order(String id, long cents, Instant at) {
    }

    private final JsonCodec codec = JsonCodec.defaults();

    @Test
    void roundTripsRecordsWithJavaTime() {
        Order o = new Order("o-1", 1250, Instant.parse("2026-11-26T10:15:30Z"));

        byte[] json = codec.encode(o);

        assertThat(new String(json, StandardCharsets.UTF_8)).contains("\"2026-11-26T10:15:30Z\"");
        assertThat(codec.decode(json, Order.class)).isEqualTo(o);
    }

    @Test
    void ignoresUnknownFieldsSoProducersCanEvolve() {
        byte[] json = "{\"id\":\"o-2\",\"cents\":5,\"at\":null,\"extra\":true}".getBytes(StandardCharsets.UTF_8);

        assertThat(codec.decode(json, Order.class).id()).isEqualTo("o-2");
    }

    @Test
    void malformedJsonIsANonRetryableDecodingExceptionNamingTheType() {
        byte[] bad = "{\"id\":".getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> codec.decode(bad, Order.class))
                .isInstanceOf(DecodingException.class)
                .isInstanceOf(NonRetryableException.class)
                .hasMessageContaining(Order.class.getName())
                .hasMessageContaining("6-byte payload");
    }

    @Test
    void jsonNullIsRejected() {
        assertThatThrownBy(() -> codec.decode("null".getBytes(StandardCharsets.UTF_8), Order.class))
                .isInstanceOf(DecodingException.class);
    }
}
