package io.courier.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import org.junit.jupiter.api.Test;

class IsoInstantsTest {

    @Test
    void canonicalTimestampsAreWrittenAndParsedAsInstantDoes() {
        java.util.Random random = new java.util.Random(42);
        for (int i = 0; i < 20_000; i++) {
            // years 0000 to 9999: the years Instant.toString writes without a sign
            long seconds = -62_167_219_200L + Math.floorMod(random.nextLong(), 253_402_300_800L + 62_167_219_200L);
            Instant t = Instant.ofEpochSecond(seconds,
                    switch (i % 4) {
                        case 0 -> 0;
                        case 1 -> random.nextInt(1000) * 1_000_000;
                        case 2 -> random.nextInt(1_000_000) * 1000;
                        default -> random.nextInt(1_000_000_000);
                    });
            assertThat(IsoInstants.parseCanonical(t.toString())).as(t.toString()).isEqualTo(t);
            assertThat(IsoInstants.format(t)).isEqualTo(t.toString());
        }
        for (Instant t : new Instant[] {Instant.MIN, Instant.MAX, Instant.EPOCH, Instant.parse("-0001-12-31T23:59:59.999Z"),
                Instant.parse("+10000-01-01T00:00:00Z"), Instant.parse("9999-12-31T23:59:59.999999999Z")}) {
            assertThat(IsoInstants.format(t)).isEqualTo(t.toString());
        }
        assertThat(IsoInstants.parseCanonical("2024-02-29T23:59:59.5Z")).isEqualTo(Instant.parse("2024-02-29T23:59:59.5Z"));
        for (String other : new String[] {"2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
                "2024-01-01T23:59:60Z", "2024-01-01T00:00:00+01:00", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00.Z",
                "2024-01-01T00:00:00.1234567890Z", "+2024-01-01T00:00:00Z", "2024-01-0aT00:00:00Z"}) {
            assertThat(IsoInstants.parseCanonical(other)).as(other).isNull();
        }
    }

    @Test
    void bytesParseLikeTextAndOtherFormsGoThroughInstantParse() {
        Instant t = Instant.parse("2020-01-02T03:04:05.000000006Z");
        assertThat(IsoInstants.parse(IsoInstants.toAsciiBytes(t))).isEqualTo(t);
        assertThat(new String(IsoInstants.toAsciiBytes(t), StandardCharsets.US_ASCII)).isEqualTo(t.toString());
        assertThat(IsoInstants.parse("+10000-01-01T00:00:00Z")).isEqualTo(Instant.parse("+10000-01-01T00:00:00Z"));
        assertThatThrownBy(() -> IsoInstants.parse("2020-02-30T03:04:05Z")).isInstanceOf(DateTimeParseException.class);
        assertThatThrownBy(() -> IsoInstants.parse("yesterday".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(DateTimeParseException.class);
    }
}
