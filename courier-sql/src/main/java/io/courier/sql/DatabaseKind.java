package io.courier.sql;

import io.courier.spi.OptionalDependency;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Objects;

/**
 * The databases Courier's SQL modules support, and the few SQL fragments and transaction steps that
 * differ between them and that more than one module needs. SQL that only one module runs (claims,
 * publishes, task statements) stays in that module, built on these fragments.
 *
 * <p>Both kinds accept the rest of what Courier writes: {@code ON CONFLICT} upserts,
 * {@code RETURNING}, {@code LIMIT}, partial indexes.
 */
public enum DatabaseKind {

    /**
     * SQLite: one writer at a time for the whole file. A write transaction begins with
     * {@code BEGIN IMMEDIATE}, so it holds the write lock from its first statement and never fails
     * half-way to upgrade a read lock; other connections wait up to the busy timeout.
     */
    SQLITE("sqlite", "SQLite", "org.sqlite.SQLiteDataSource", "org.xerial:sqlite-jdbc"),

    /**
     * PostgreSQL: many writers at once with row locks; a transaction is begun by turning auto-commit
     * off, and concurrent work is kept apart with row locks and {@linkplain AdvisoryLocks advisory locks}.
     */
    POSTGRESQL("postgresql", "PostgreSQL", "org.postgresql.Driver", "org.postgresql:postgresql");

    private final String id;
    private final String displayName;
    private final String driverClass;
    private final String driverArtifact;

    DatabaseKind(String id, String displayName, String driverClass, String driverArtifact) {
        this.id = id;
        this.displayName = displayName;
        this.driverClass = driverClass;
        this.driverArtifact = driverArtifact;
    }

    /**
     * Detects the kind from the driver's product name.
     *
     * @throws IllegalArgumentException for any other database
     * @throws SQLException             when the metadata cannot be read
     */
    public static DatabaseKind detect(Connection c) throws SQLException {
        String product = c.getMetaData().getDatabaseProductName();
        String lower = String.valueOf(product).toLowerCase(Locale.ROOT);
        if (lower.contains("sqlite")) {
            return SQLITE;
        }
        if (lower.contains("postgres")) {
            return POSTGRESQL;
        }
        throw new IllegalArgumentException("unsupported database '" + product
                + "': Courier's SQL modules support SQLite and PostgreSQL");
    }

    /** {@code sqlite} or {@code postgresql}: the name a transport or store reports. */
    public String id() {
        return id;
    }

    /** {@code SQLite} or {@code PostgreSQL}, for messages. */
    public String displayName() {
        return displayName;
    }

    /** A class of the driver, looked up by {@link #requireDriver} (not initialised). */
    public String driverClass() {
        return driverClass;
    }

    /** The driver's Maven coordinates, e.g. {@code org.xerial:sqlite-jdbc}. */
    public String driverArtifact() {
        return driverArtifact;
    }

    /**
     * Returns normally when this database's driver is on {@code caller}'s classpath. Call it before
     * loading any class that links against the driver.
     *
     * @param feature what needs the driver, e.g. {@code "SqlTaskStore.sqlite"}
     * @throws io.courier.MissingDependencyException naming {@link #driverArtifact()} when it is missing
     */
    public void requireDriver(Class<?> caller, String feature) {
        OptionalDependency.require(caller, driverClass, driverArtifact, feature);
    }

    /** The type of a binary column: {@code BLOB} or {@code BYTEA}. */
    public String blobType() {
        return this == SQLITE ? "BLOB" : "BYTEA";
    }

    /** The type of a 64-bit integer column: {@code INTEGER} (64-bit in SQLite) or {@code BIGINT}. */
    public String bigintType() {
        return this == SQLITE ? "INTEGER" : "BIGINT";
    }

    /**
     * The type and constraint of a 64-bit primary key that the database assigns in insert order, to
     * follow a column name: {@code INTEGER PRIMARY KEY} (SQLite's rowid) or {@code BIGSERIAL PRIMARY KEY}.
     */
    public String autoIncrementPrimaryKey() {
        return this == SQLITE ? "INTEGER PRIMARY KEY" : "BIGSERIAL PRIMARY KEY";
    }

    /**
     * Appended to a sub-select that picks rows to change, so that concurrent workers never wait for
     * each other's rows: {@code " FOR UPDATE SKIP LOCKED"} on PostgreSQL; empty on SQLite, where the
     * write transaction already excludes every other writer.
     */
    public String skipLocked() {
        return this == SQLITE ? "" : " FOR UPDATE SKIP LOCKED";
    }

    /** Appended to a select that reads rows it is about to change: {@code " FOR UPDATE"}, or empty on SQLite. */
    public String forUpdate() {
        return this == SQLITE ? "" : " FOR UPDATE";
    }

    /**
     * Begins a write transaction on {@code c}, a connection in auto-commit mode. SQLite: runs
     * {@code BEGIN IMMEDIATE} (the connection stays in auto-commit mode as JDBC sees it) and so takes
     * the file's write lock now, waiting up to the busy timeout. PostgreSQL: turns auto-commit off.
     * End it with {@link #commit} or {@link #rollback}.
     */
    public void begin(Connection c) throws SQLException {
        Objects.requireNonNull(c, "connection");
        if (this == SQLITE) {
            execute(c, "BEGIN IMMEDIATE");
        } else {
            c.setAutoCommit(false);
        }
    }

    /** Commits a transaction begun by {@link #begin}; the connection is in auto-commit mode after. */
    public void commit(Connection c) throws SQLException {
        if (this == SQLITE) {
            execute(c, "COMMIT");
        } else {
            c.commit();
            c.setAutoCommit(true);
        }
    }

    /** Rolls back a transaction begun by {@link #begin}; the connection is in auto-commit mode after. */
    public void rollback(Connection c) throws SQLException {
        if (this == SQLITE) {
            execute(c, "ROLLBACK");
        } else {
            try {
                c.rollback();
            } finally {
                c.setAutoCommit(true);
            }
        }
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
