package io.courier.spi;

import java.time.Duration;
import java.util.Objects;

/**
 * Range checks for configuration builders, with the messages Courier uses everywhere: what was
 * expected and what was given, e.g. {@code "concurrency must be between 1 and 4096, but was 0"}.
 */
public final class Settings {

    private Settings() {
    }

    /**
     * Returns {@code value} when it is in {@code min .. max}.
     *
     * @throws IllegalArgumentException otherwise, naming the setting, the range and the value
     */
    public static int between(int value, int min, int max, String name) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", but was " + value);
        }
        return value;
    }

    /**
     * Returns {@code value} when it is in {@code min .. max}.
     *
     * @throws NullPointerException     when {@code value} is null, with {@code name} as its message
     * @throws IllegalArgumentException otherwise, naming the setting, the range and the value
     */
    public static Duration between(Duration value, Duration min, Duration max, String name) {
        Objects.requireNonNull(value, name);
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", but was " + value);
        }
        return value;
    }
}
