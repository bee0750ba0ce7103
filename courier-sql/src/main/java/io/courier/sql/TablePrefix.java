package io.courier.sql;

import java.util.regex.Pattern;

/**
 * The prefix of a module's table names, validated so that it can be concatenated into SQL safely:
 * lower-case letters, digits and underscores, starting with a letter or underscore, at most
 * {@value #MAX_LENGTH} characters. Every SQL module checks its {@code tablePrefix} setting with this
 * one rule and reports a wrong one with the same message.
 *
 * <p>PostgreSQL truncates identifiers to 63 bytes, so a module's names after the prefix (tables,
 * indexes, triggers) must be at most {@value #MAX_SUFFIX_LENGTH} characters; {@link #name} checks that.
 *
 * @param value the prefix, e.g. {@code courier_}
 */
public record TablePrefix(String value) {

    /** The longest prefix: 40 characters. */
    public static final int MAX_LENGTH = 40;
    /** The longest name after the prefix, so that every name fits PostgreSQL's 63-byte identifiers. */
    public static final int MAX_SUFFIX_LENGTH = 63 - MAX_LENGTH;

    private static final Pattern VALID = Pattern.compile("[a-z_][a-z0-9_]{0," + (MAX_LENGTH - 1) + "}");

    /**
     * Validates the prefix.
     *
     * @throws IllegalArgumentException when it breaks the rule (null included), naming the rule and the value
     */
    public TablePrefix {
        if (value == null || !VALID.matcher(value).matches()) {
            throw new IllegalArgumentException("tablePrefix must match " + VALID.pattern()
                    + " (lower-case letters, digits, underscores; at most " + MAX_LENGTH + " characters), but was '"
                    + value + "'");
        }
    }

    /**
     * Checks {@code tablePrefix} and returns it, for a builder's setter.
     *
     * @throws IllegalArgumentException as {@link #TablePrefix(String)} does
     */
    public static String check(String tablePrefix) {
        return new TablePrefix(tablePrefix).value();
    }

    /**
     * The prefixed name of a table, index or other object: {@code value() + suffix}.
     *
     * @throws IllegalArgumentException when {@code suffix} is empty or longer than {@value #MAX_SUFFIX_LENGTH}
     */
    public String name(String suffix) {
        if (suffix == null || suffix.isEmpty() || suffix.length() > MAX_SUFFIX_LENGTH) {
            throw new IllegalArgumentException("a name after the table prefix must have 1 to " + MAX_SUFFIX_LENGTH
                    + " characters, but was '" + suffix + "'");
        }
        return value + suffix;
    }

    /** The prefix. */
    @Override
    public String toString() {
        return value;
    }
}
