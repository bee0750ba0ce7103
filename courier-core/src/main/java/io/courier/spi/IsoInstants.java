package io.courier.spi;

import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;

/**
 * {@link Instant#toString()} and {@link Instant#parse(CharSequence)} for timestamps that transports
 * write on every message (a header, a stream field), without the general {@code DateTimeFormatter}
 * machinery, which costs more per message than the rest of encoding or decoding it.
 *
 * <p>The output is exactly {@code Instant.toString()}'s. The years 0000 to 9999 are written
 * directly; other instants, and text not in the canonical form
 * {@code yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z}, go through {@code java.time} itself. Thread-safe (stateless).
 */
public final class IsoInstants {

    private static final long SECONDS_PER_DAY = 86_400;
    private static final long MIN_FAST_SECOND = LocalDate.of(0, 1, 1).toEpochDay() * SECONDS_PER_DAY;
    private static final long MAX_FAST_SECOND = (LocalDate.of(9999, 12, 31).toEpochDay() + 1) * SECONDS_PER_DAY;

    private IsoInstants() {
    }

    /** {@code t.toString()} as US-ASCII bytes. */
    public static byte[] toAsciiBytes(Instant t) {
        long seconds = t.getEpochSecond();
        if (seconds < MIN_FAST_SECOND || seconds >= MAX_FAST_SECOND) {
            return t.toString().getBytes(StandardCharsets.US_ASCII);
        }
        int nanos = t.getNano();
        int fraction = nanos == 0 ? 0 : nanos % 1_000_000 == 0 ? 3 : nanos % 1_000 == 0 ? 6 : 9;
        byte[] b = new byte[fraction == 0 ? 20 : 21 + fraction];
        LocalDate date = LocalDate.ofEpochDay(Math.floorDiv(seconds, SECONDS_PER_DAY));
        int secondOfDay = (int) Math.floorMod(seconds, SECONDS_PER_DAY);
        put(b, 0, date.getYear(), 4);
        b[4] = '-';
        put(b, 5, date.getMonthValue(), 2);
        b[7] = '-';
        put(b, 8, date.getDayOfMonth(), 2);
        b[10] = 'T';
        put(b, 11, secondOfDay / 3600, 2);
        b[13] = ':';
        put(b, 14, secondOfDay / 60 % 60, 2);
        b[16] = ':';
        put(b, 17, secondOfDay % 60, 2);
        if (fraction > 0) {
            b[19] = '.';
            put(b, 20, fraction == 3 ? nanos / 1_000_000 : fraction == 6 ? nanos / 1_000 : nanos, fraction);
        }
        b[b.length - 1] = 'Z';
        return b;
    }

    /** The same text as {@code t.toString()}. */
    public static String format(Instant t) {
        return new String(toAsciiBytes(t), StandardCharsets.US_ASCII);
    }

    /**
     * The same instant as {@code Instant.parse(text)}.
     *
     * @throws java.time.format.DateTimeParseException when {@code Instant.parse} would
     */
    public static Instant parse(CharSequence text) {
        Instant fast = parseCanonical(text);
        return fast != null ? fast : Instant.parse(text);
    }

    /** {@link #parse(CharSequence)} of US-ASCII bytes, read without building a string first. */
    public static Instant parse(byte[] ascii) {
        Instant fast = parseCanonical(new Ascii(ascii));
        return fast != null ? fast : Instant.parse(new String(ascii, StandardCharsets.ISO_8859_1));
    }

    /**
     * {@code text} as an instant when it has the canonical form {@code Instant.toString()} writes for
     * the years 0000 to 9999 with a valid date; null for anything else (which {@link Instant#parse}
     * then judges: it gives the same result for canonical text and also accepts other ISO-8601 forms).
     */
    public static Instant parseCanonical(CharSequence s) {
        int n = s.length();
        if (n < 20 || n == 21 || n > 30 || s.charAt(4) != '-' || s.charAt(7) != '-' || s.charAt(10) != 'T'
                || s.charAt(13) != ':' || s.charAt(16) != ':' || s.charAt(n - 1) != 'Z' || (n > 20 && s.charAt(19) != '.')) {
            return null;
        }
        int year = digits(s, 0, 4);
        int month = digits(s, 5, 2);
        int day = digits(s, 8, 2);
        int hour = digits(s, 11, 2);
        int minute = digits(s, 14, 2);
        int second = digits(s, 17, 2);
        int nanos = 0;
        if (n > 20) {
            int fractionDigits = n - 21;
            nanos = digits(s, 20, fractionDigits);
            for (int i = fractionDigits; i < 9 && nanos >= 0; i++) {
                nanos *= 10;
            }
        }
        if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59
                || second < 0 || second > 59 || nanos < 0) {
            return null;
        }
        try {
            long epochDay = LocalDate.of(year, month, day).toEpochDay();
            return Instant.ofEpochSecond(epochDay * SECONDS_PER_DAY + hour * 3600L + minute * 60L + second, nanos);
        } catch (DateTimeException e) {
            return null;   // e.g. February 30th: Instant.parse refuses it too
        }
    }

    private static void put(byte[] b, int at, int value, int width) {
        for (int i = at + width - 1; i >= at; i--) {
            b[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
    }

    /** The decimal number in {@code s[from, from + count)}, or -1 when a character is not a digit. */
    private static int digits(CharSequence s, int from, int count) {
        int value = 0;
        for (int i = from; i < from + count; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    /** A view of ASCII bytes as characters, for parsing without a copy. */
    private record Ascii(byte[] b) implements CharSequence {
        @Override
        public int length() {
            return b.length;
        }

        @Override
        public char charAt(int index) {
            return (char) (b[index] & 0xff);
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return new String(b, start, end - start, StandardCharsets.ISO_8859_1);
        }

        @Override
        public String toString() {
            return new String(b, StandardCharsets.ISO_8859_1);
        }
    }
}
