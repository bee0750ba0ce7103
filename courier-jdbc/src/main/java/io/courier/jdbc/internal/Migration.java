package io.courier.jdbc.internal;

import java.util.List;

/**
 * One schema version: the statements that take the schema from {@code version - 1} to
 * {@code version}. Migrations are applied in order, each exactly once, and recorded in the schema
 * version table.
 *
 * @param version     1, 2, 3, ...
 * @param description what the migration does, stored with it
 * @param statements  DDL statements, run in one transaction
 */
public record Migration(int version, String description, List<String> statements) {

    /** Copies the statement list. */
    public Migration {
        statements = List.copyOf(statements);
    }
}
