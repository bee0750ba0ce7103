package io.courier.jdbc.internal;

import io.courier.sql.TablePrefix;

/**
 * The names of Courier's tables under one prefix. The prefix is validated by the rule every SQL module
 * shares ({@link TablePrefix}), so that it can be concatenated into SQL safely.
 *
 * @param prefix lower-case letters, digits and underscores, starting with a letter or underscore
 */
public record Tables(String prefix) {

    /** Validates the prefix. */
    public Tables {
        TablePrefix.check(prefix);
    }

    /** The prefix, for the shared SQL foundation. */
    public TablePrefix tablePrefix() {
        return new TablePrefix(prefix);
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
