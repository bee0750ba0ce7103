package io.courier.rabbitmq.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fast timestamp text must be exactly java.time's, both ways; no broker needed. */
class IsoInstantTest {

    private static final List<Instant> EDGES = List.of(
            Instant.EPOCH, Instant.ofEpochSecond(0, 1), Instant.ofEpochSecond(-1, 999_999_999),
            Instant.parse("2024-02-29T23:59:59.999999999Z"), Instant.parse("2024-01-02T03:04:05.678Z"),
            Instant.parse("2024-01-02T03:04:05.678900Z"), Instant.parse("2024-01-02T03:04:00Z"),
            Instant.parse("1000-01-01T00:00:00Z"), Instant.parse("9999-12-31T23:59:59.100Z"),
            Instant.parse("0999-12-31T23:59:59Z"), Instant.parse("+10000-01-01T00:00:00Z"),
            Instant.parse("-0001-06-01T12:00:00.5Z"), Instant.MIN, Instant.MAX);

    @Test
    void formatsExactlyLikeInstantToString() {
        for (Instant t : EDGES) {
            assertThat(IsoInstant.format(t)).isEqualTo(t.toString());
        }
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 100_000; i++) {
            Instant t = Instant.ofEpochSecond(random.nextLong(-40_000_000_000L, 260_000_000_000L), nanos(random));
            assertThat(IsoInstant.format(t)).isEqualTo(t.toString());
        }
    }

    @Test
    void parsesExactlyLikeInstantParse() {
        for (Instant t : EDGES) {
            assertThat(IsoInstant.parse(t.toString())).isEqualTo(t);
        }
        for (String text : List.of("2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.12345Z", "2024-01-02T23:59:60Z",
                "2024-01-02T03:04:05.000000000Z", "2024-01-02T03:04:05.Z")) {
            assertThat(IsoInstant.parse(text)).isEqualTo(Instant.parse(text));
        }
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 100_000; i++) {
            Instant t = Instant.ofEpochSecond(random.nextLong(-40_000_000_000L, 260_000_000_000L), nanos(random));
            assertThat(IsoInstant.parse(t.toString())).isEqualTo(t);
        }
    }

    @Test
    void rejectsWhatInstantParseRejects() {
        for (String text : List.of("2024-02-30T00:00:00Z", "2024-01-02T03:04:05", "2024-13-01T00:00:00Z",
                "2024-01-02T03:04:05.1234567890Z", "2024-01-02 03:04:05Z", "x024-01-02T03:04:05Z", "")) {
            assertThatThrownBy(() -> IsoInstant.parse(text)).as(text).isInstanceOf(DateTimeParseException.class);
        }
    }

    private static int nanos(SplittableRandom random) {
        return switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> random.nextInt(1000) * 1_000_000;
            case 2 -> random.nextInt(1_000_000) * 1_000;
            default -> random.nextInt(1_000_000_000);
        };
    }
}
