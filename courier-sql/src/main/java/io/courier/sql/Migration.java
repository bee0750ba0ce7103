package io.courier.sql;

import java.util.List;
import java.util.Objects;

/**
 * One schema version of a module: the statements that take its tables from {@code version - 1} to
 * {@code version}. A {@link Migrator} applies a module's migrations in order, each exactly once, and
 * records each in the module's version table. A migration may have no statements (a version that
 * changes nothing on one database), and is then only recorded.
 *
 * @param version     1, 2, 3, ...
 * @param description what the migration does, stored with it where the version table has room
 * @param statements  DDL and data statements, run in order inside the migrator's transaction
 */
public record Migration(int version, String description, List<String> statements) {

    /**
     * Checks the version and copies the statement list.
     *
     * @throws IllegalArgumentException when {@code version < 1}
     */
    public Migration {
        if (version < 1) {
            throw new IllegalArgumentException("version must be >= 1, but was " + version);
        }
        Objects.requireNonNull(description, "description");
        statements = List.copyOf(statements);
    }
}
