package io.courier.tasks.sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Locale;

/**
 * The few places where SQLite and PostgreSQL differ, in one small adapter (in the manner of
 * watermill-sql's schema adapter). Everything else is plain SQL both accept: {@code ON CONFLICT}
 * upserts, {@code RETURNING}, {@code LIMIT}.
 */
enum SqlDialect {

    /** SQLite: a single writer at a time; every write transaction is {@code BEGIN IMMEDIATE}. */
    SQLITE("sqlite", "BLOB", "", "", "rowid", ""),

    /** PostgreSQL: row locks; claims use {@code FOR UPDATE SKIP LOCKED} so workers never wait on each other. */
    POSTGRESQL("postgresql", "BYTEA", " FOR UPDATE SKIP LOCKED", " FOR UPDATE", "seq", "seq BIGSERIAL, ");

    private final String displayName;
    private final String blobType;
    private final String skipLocked;
    private final String forUpdate;
    private final String insertionOrder;
    private final String sequenceColumn;

    SqlDialect(String displayName, String blobType, String skipLocked, String forUpdate, String insertionOrder,
               String sequenceColumn) {
        this.displayName = displayName;
        this.blobType = blobType;
        this.skipLocked = skipLocked;
        this.forUpdate = forUpdate;
        this.insertionOrder = insertionOrder;
        this.sequenceColumn = sequenceColumn;
    }

    /** A column that grows with every insert: ties between equal process times go first in, first out. */
    String insertionOrder() {
        return insertionOrder;
    }

    /** Detects the dialect from the driver's product name. */
    static SqlDialect detect(Connection c) throws SQLException {
        String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
        if (product.contains("sqlite")) {
            return SQLITE;
        }
        if (product.contains("postgres")) {
            return POSTGRESQL;
        }
        throw new IllegalArgumentException("unsupported database '" + product + "' for the SQL task store; "
                + "supported are SQLite and PostgreSQL");
    }

    String displayName() {
        return displayName;
    }

    /** Suffix of a sub-select that picks rows to change without waiting for rows others hold. */
    String skipLocked() {
        return skipLocked;
    }

    /** Suffix of a select that reads a row it is about to change. */
    String forUpdate() {
        return forUpdate;
    }

    /** Serializes schema creation between processes (PostgreSQL; SQLite's immediate transaction already does). */
    void lockSchema(Connection c, String prefix) throws SQLException {
        if (this == POSTGRESQL) {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                ps.setLong(1, 0x436f7572L << 32 | (prefix.hashCode() & 0xffffffffL));
                ps.execute();
            }
        }
    }

    /**
     * The DDL that brings a schema of version {@code version - 1} to {@code version}, in order
     * ({@code version} 1 creates everything). Each list runs in one transaction.
     */
    List<String> migrationTo(int version, String p) {
        return switch (version) {
            case 1 -> schemaV1(p);
            case 2 -> schemaV2(p);
            default -> throw new IllegalArgumentException("no migration to task schema version " + version);
        };
    }

    /**
     * Version 2: partial indexes on PostgreSQL, one per kind of work, so that the hot path (a claim
     * turns a row from pending to active, a completion deletes it) writes as few index entries as
     * possible. A non-HOT update inserts an entry into every index whose predicate the new row
     * matches: v1's three full indexes took three of those per claim besides the primary key, v2's
     * take one ({@code tasks_active}). The claim reads {@code tasks_pending}, whose predicate and order
     * are exactly the claim's {@code WHERE} and {@code ORDER BY}. SQLite keeps v1's indexes: its
     * planner uses a partial index only when the query repeats the index's own {@code WHERE} terms,
     * and with one writer at a time index upkeep is not what limits it.
     */
    List<String> schemaV2(String p) {
        if (this != POSTGRESQL) {
            return List.of();
        }
        String t = p + "tasks";
        return List.of(
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_pending ON " + t + " (queue, process_at, seq) "
                        + "WHERE state = 'pending'",
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_active ON " + t + " (queue, lease_expires_at) "
                        + "WHERE state = 'active'",
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_waiting ON " + t + " (queue, state, process_at) "
                        + "WHERE state IN ('scheduled', 'retry', 'archived', 'completed')",
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_completed_expires ON " + t + " (expires_at) "
                        + "WHERE state = 'completed'",
                "DROP INDEX IF EXISTS " + p + "tasks_queue_state",
                "DROP INDEX IF EXISTS " + p + "tasks_state_lease",
                "DROP INDEX IF EXISTS " + p + "tasks_state_expires");
    }

    /** The DDL for schema version 1, in order. */
    List<String> schemaV1(String p) {
        return List.of(
                "CREATE TABLE IF NOT EXISTS " + p + "tasks ("
                        + "id VARCHAR(200) PRIMARY KEY, "
                        + sequenceColumn
                        + "queue VARCHAR(200) NOT NULL, "
                        + "type VARCHAR(200) NOT NULL, "
                        + "payload " + blobType + " NOT NULL, "
                        + "state VARCHAR(16) NOT NULL, "
                        + "retried INTEGER NOT NULL, "
                        + "max_retry INTEGER NOT NULL, "
                        + "timeout_ms BIGINT, "
                        + "deadline_ms BIGINT, "
                        + "retention_ms BIGINT NOT NULL, "
                        + "unique_key VARCHAR(64), "
                        + "enqueued_at BIGINT NOT NULL, "
                        + "process_at BIGINT NOT NULL, "
                        + "last_error TEXT, "
                        + "last_failed_at BIGINT, "
                        + "started_at BIGINT, "
                        + "lease_owner VARCHAR(200), "
                        + "lease_token VARCHAR(64), "
                        + "lease_expires_at BIGINT, "
                        + "completed_at BIGINT, "
                        + "expires_at BIGINT)",
                // The claim's ORDER BY (process_at, insertion order) must be the index order, so that a claim
                // reads only the first rows of the queue. SQLite appends the rowid to every index; PostgreSQL
                // needs seq spelled out, else (with stale statistics right after a burst of enqueues) it sorts
                // every pending row of the queue on each claim.
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_queue_state ON " + p + "tasks (queue, state, process_at"
                        + (this == POSTGRESQL ? ", seq" : "") + ")",
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_state_lease ON " + p + "tasks (state, lease_expires_at)",
                "CREATE INDEX IF NOT EXISTS " + p + "tasks_state_expires ON " + p + "tasks (state, expires_at)",
                "CREATE TABLE IF NOT EXISTS " + p + "task_unique ("
                        + "unique_key VARCHAR(64) PRIMARY KEY, task_id VARCHAR(200) NOT NULL, expires_at BIGINT NOT NULL)",
                "CREATE TABLE IF NOT EXISTS " + p + "task_queues ("
                        + "name VARCHAR(200) PRIMARY KEY, paused INTEGER NOT NULL)",
                "CREATE TABLE IF NOT EXISTS " + p + "task_stats ("
                        + "queue VARCHAR(200) NOT NULL, day VARCHAR(10) NOT NULL, processed BIGINT NOT NULL, "
                        + "failed BIGINT NOT NULL, PRIMARY KEY (queue, day))",
                "CREATE TABLE IF NOT EXISTS " + p + "task_servers ("
                        + "id VARCHAR(200) PRIMARY KEY, info TEXT NOT NULL, expires_at BIGINT NOT NULL)",
                "CREATE TABLE IF NOT EXISTS " + p + "task_schedules ("
                        + "schedule_id VARCHAR(200) PRIMARY KEY, last_tick BIGINT NOT NULL)");
    }
}
