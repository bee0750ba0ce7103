package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
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

    record Item(String id, int qty) {
    }

    record Line(String sku, int qty) {
    }

    record Basket(String id, Integer discount, List<Line> lines) {
    }

    private static byte[] json(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void contentAfterTheJsonValueIsRejected() {
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"t\",\"qty\":4} garbage"), Item.class))
                .isInstanceOf(DecodingException.class)
                .hasMessageStartingWith("cannot decode 26-byte payload as " + Item.class.getName() + ": Unrecognized token 'garbage'")
                .hasMessageEndingWith("(at line 1, column 20)");
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"t\",\"qty\":4} {}"), Item.class))
                .isInstanceOf(DecodingException.class)
                .hasMessageStartingWith("cannot decode 21-byte payload as " + Item.class.getName()
                        + ": unexpected content after the JSON value (at line 1, column ");
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"t\",\"qty\":4}5"), Item.class))
                .isInstanceOf(DecodingException.class).hasMessageContaining("unexpected content after the JSON value");
        // Whitespace after the value is not content.
        assertThat(codec.decode(json("{\"id\":\"t\",\"qty\":4}\n  "), Item.class)).isEqualTo(new Item("t", 4));
    }

    @Test
    void anAbsentOrNullPrimitiveRecordComponentIsRejectedWithItsPath() {
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"t\"}"), Item.class))
                .isInstanceOf(DecodingException.class)
                .hasMessage("cannot decode 10-byte payload as " + Item.class.getName()
                        + ": $.qty is missing or null, but its type is int (use a reference type such as Integer for an optional value)");
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"t\",\"qty\":null}"), Item.class))
                .isInstanceOf(DecodingException.class).hasMessageContaining("$.qty is missing or null");
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"b\",\"lines\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\"}]}"), Basket.class))
                .isInstanceOf(DecodingException.class).hasMessageContaining("$.lines[1].qty is missing or null");
        assertThatThrownBy(() -> codec.decode(json("{\"ok\":true}"), Flags.class))
                .hasMessageContaining("$.verbose is missing or null, but its type is boolean (use a reference type such as Boolean");
    }

    record Flags(boolean ok, boolean verbose) {
    }

    @Test
    void anAbsentReferenceTypedComponentIsNull() {
        Basket b = codec.decode(json("{\"id\":\"b\"}"), Basket.class);

        assertThat(b).isEqualTo(new Basket("b", null, null));
        assertThat(codec.decode(json("{\"qty\":4}"), Item.class)).isEqualTo(new Item(null, 4));
    }

    @Test
    void aValueOfTheWrongTypeNamesItsPath() {
        assertThatThrownBy(() -> codec.decode(json("{\"id\":\"t\",\"qty\":\"x\"}"), Item.class))
                .isInstanceOf(DecodingException.class)
                .hasMessageContaining("not a valid `int` value")
                .hasMessageEndingWith("(at $.qty)");
    }
}
