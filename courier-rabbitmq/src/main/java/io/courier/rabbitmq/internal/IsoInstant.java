package io.courier.rabbitmq.internal;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;

/**
 * {@link Instant#toString()} and {@link Instant#parse(CharSequence)} for the {@code courier-timestamp}
 * header, without the general {@code DateTimeFormatter} machinery, which cost more than the rest of
 * mapping a message put together. The output is exactly {@code Instant.toString()}'s; instants
 * outside the years 1000–9999, and text not in the canonical form {@code yyyy-MM-ddTHH:mm:ss[.fraction]Z},
 * go through {@code java.time} itself.
 */
final class IsoInstant {

    private static final long SECONDS_PER_DAY = 86_400;
    private static final long FIRST_FAST_SECOND = LocalDate.of(1000, 1, 1).toEpochDay() * SECONDS_PER_DAY;
    private static final long LAST_FAST_SECOND = (LocalDate.of(9999, 12, 31).toEpochDay() + 1) * SECONDS_PER_DAY - 1;
    private static final int[] POWERS_OF_TEN = {1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000};

    private IsoInstant() {
    }

    /** The same text as {@code instant.toString()}. */
    static String format(Instant instant) {
        long seconds = instant.getEpochSecond();
        if (seconds < FIRST_FAST_SECOND || seconds > LAST_FAST_SECOND) {
            return instant.toString();
        }
        LocalDate date = LocalDate.ofEpochDay(Math.floorDiv(seconds, SECONDS_PER_DAY));
        int secondOfDay = (int) Math.floorMod(seconds, SECONDS_PER_DAY);
        int nano = instant.getNano();
        StringBuilder sb = new StringBuilder(30);
        digits(sb, date.getYear(), 4);
        sb.append('-');
        digits(sb, date.getMonthValue(), 2);
        sb.append('-');
        digits(sb, date.getDayOfMonth(), 2);
        sb.append('T');
        digits(sb, secondOfDay / 3600, 2);
        sb.append(':');
        digits(sb, secondOfDay / 60 % 60, 2);
        sb.append(':');
        digits(sb, secondOfDay % 60, 2);
        // like DateTimeFormatter.ISO_INSTANT: as many digits as needed, in groups of three
        if (nano > 0) {
            sb.append('.');
            if (nano % 1_000_000 == 0) {
                digits(sb, nano / 1_000_000, 3);
            } else if (nano % 1_000 == 0) {
                digits(sb, nano / 1_000, 6);
            } else {
                digits(sb, nano, 9);
            }
        }
        return sb.append('Z').toString();
    }

    /**
     * The same instant as {@code Instant.parse(text)}.
     *
     * @throws DateTimeParseException when {@code Instant.parse} would
     */
    static Instant parse(String text) {
        Instant fast = parseCanonical(text);
        return fast != null ? fast : Instant.parse(text);
    }

    /** The canonical form only; null for anything else (which {@code Instant.parse} then judges). */
    private static Instant parseCanonical(String s) {
        int n = s.length();
        if (n < 20 || n == 21 || n > 30 || s.charAt(n - 1) != 'Z' || s.charAt(4) != '-' || s.charAt(7) != '-'
                || s.charAt(10) != 'T' || s.charAt(13) != ':' || s.charAt(16) != ':' || (n > 20 && s.charAt(19) != '.')) {
            return null;
        }
        int year = number(s, 0, 4);
        int month = number(s, 5, 2);
        int day = number(s, 8, 2);
        int hour = number(s, 11, 2);
        int minute = number(s, 14, 2);
        int second = number(s, 17, 2);
        int nano = 0;
        if (n > 20) {
            int fractionDigits = n - 21;
            int fraction = number(s, 20, fractionDigits);
            if (fraction < 0) {
                return null;
            }
            nano = fraction * POWERS_OF_TEN[9 - fractionDigits];
        }
        if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
            return null;
        }
        long epochDay;
        try {
            epochDay = LocalDate.of(year, month, day).toEpochDay();
        } catch (DateTimeException e) {
            return null;
        }
        return Instant.ofEpochSecond(epochDay * SECONDS_PER_DAY + hour * 3600L + minute * 60L + second, nano);
    }

    /** The decimal number in {@code s[from, from + length)}, or -1 when a character is not a digit. */
    private static int number(String s, int from, int length) {
        int value = 0;
        for (int i = from; i < from + length; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    private static void digits(StringBuilder sb, int value, int width) {
        String s = Integer.toString(value);
        for (int i = s.length(); i < width; i++) {
            sb.append('0');
        }
        sb.append(s);
    }
}
