package io.courier.jdbc.internal;

import java.util.regex.Pattern;

/**
 * The names of Courier's tables under one prefix. The prefix is validated so that it can be
 * concatenated into SQL safely.
 *
 * @param prefix lower-case letters, digits and underscores, starting with a letter or underscore
 */
public record Tables(String prefix) {

    private static final Pattern VALID = Pattern.compile("[a-z_][a-z0-9_]{0,39}");

    /** Validates the prefix. */
    public Tables {
        if (prefix == null || !VALID.matcher(prefix).matches()) {
            throw new IllegalArgumentException("tablePrefix must match " + VALID.pattern()
                    + " (lower-case letters, digits, underscores; at most 40 characters), but was '" + prefix + "'");
        }
    }

    /** One row per stored message. */
    public String messages() {
        return prefix + "messages";
    }

    /** One row per (group, message) still to be handled by that group. */
    public String deliveries() {
        return prefix + "deliveries";
    }

    /** One row per consumer group of a topic. */
    public String groups() {
        return prefix + "groups";
    }

    /** Idempotency claims: one row per (consumer scope, message id) already processed. */
    public String processed() {
        return prefix + "processed";
    }

    /** Idempotency keys of the {@code IdempotencyStore}: one row per key, in progress or done, until it expires. */
    public String idempotencyKeys() {
        return prefix + "idempotency_keys";
    }

    /** Applied schema migrations. */
    public String schemaVersion() {
        return prefix + "schema_version";
    }

    /** PostgreSQL LISTEN/NOTIFY channel that carries topic names of new messages. */
    public String channel() {
        return prefix + "wakeup";
    }
}
