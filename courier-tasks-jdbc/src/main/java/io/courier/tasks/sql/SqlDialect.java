package io.courier.tasks.sql;

import io.courier.sql.DatabaseKind;
import io.courier.sql.Migration;
import java.util.List;

/**
 * The task store's SQL where SQLite and PostgreSQL differ: its schema and its migrations, the
 * insertion-order column and the count folding. The fragments every SQL module shares ({@code BLOB} or
 * {@code BYTEA}, {@code SKIP LOCKED}, {@code FOR UPDATE}, detection, transactions) come from
 * {@link DatabaseKind}. Everything else is plain SQL both accept: {@code ON CONFLICT} upserts,
 * {@code RETURNING}, {@code LIMIT}.
 */
enum SqlDialect {

    /** SQLite: a single writer at a time; every write transaction is {@code BEGIN IMMEDIATE}. */
    SQLITE(DatabaseKind.SQLITE, "rowid", ""),

    /** PostgreSQL: row locks; claims use {@code FOR UPDATE SKIP LOCKED} so workers never wait on each other. */
    POSTGRESQL(DatabaseKind.POSTGRESQL, "seq", "seq BIGSERIAL, ");

    private final DatabaseKind kind;
    private final String insertionOrder;
    private final String sequenceColumn;

    SqlDialect(DatabaseKind kind, String insertionOrder, String sequenceColumn) {
        this.kind = kind;
        this.insertionOrder = insertionOrder;
        this.sequenceColumn = sequenceColumn;
    }

    /** The dialect of {@code kind}. */
    static SqlDialect of(DatabaseKind kind) {
        return kind == DatabaseKind.SQLITE ? SQLITE : POSTGRESQL;
    }

    /** The database. */
    DatabaseKind kind() {
        return kind;
    }

    /** A column that grows with every insert: ties between equal process times go first in, first out. */
    String insertionOrder() {
        return insertionOrder;
    }

    /** Suffix of a sub-select that picks rows to change without waiting for rows others hold. */
    String skipLocked() {
        return kind.skipLocked();
    }

    /** Suffix of a select that reads a row it is about to change. */
    String forUpdate() {
        return kind.forUpdate();
    }

    /** The schema's versions in order, for the shared migrator; version 1 creates everything. */
    List<Migration> migrations(String p) {
        return List.of(
                new Migration(1, "tasks, unique keys, queues, stats, servers, schedules", schemaV1(p)),
                new Migration(2, "partial indexes per kind of work (PostgreSQL)", schemaV2(p)),
                new Migration(3, "task results and per-queue counts kept by triggers", schemaV3(p)));
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

    /**
     * Version 3: task results, per-queue counts kept by triggers, and indexes in the order of every
     * inspector listing.
     *
     * <ul>
     *   <li>{@code tasks.result}: the last result a handler wrote.</li>
     *   <li>{@code task_counts (queue, state, shard, n)}: how many tasks each queue has in each state,
     *       the sum over shards. Triggers on {@code tasks} keep it in the transaction of every insert,
     *       state change and delete (including rows written by hand or in bulk), so the inspector's
     *       counts are exact and cost a few index lookups instead of counting the table: with
     *       1,000,000 tasks the queue summary read every one of them. On PostgreSQL one trigger per
     *       statement adds up the statement's changes ({@code REFERENCING} transition tables), and
     *       each connection writes its own shard (its backend pid): two transactions never write the
     *       same counter row, so counting adds no lock waits or deadlocks between workers. The
     *       store folds the shards into shard 0 during its periodic cleanup. SQLite (one writer at a
     *       time) counts in shard 0 with one trigger per row.</li>
     *   <li>Listings: completed tasks by completion time ({@code tasks_completed}); on PostgreSQL
     *       {@code tasks_waiting} now leaves completed tasks out, so a retained completion still adds
     *       one entry to one of the two. (Ending it in {@code seq}, the listing's tie-breaker, made
     *       PostgreSQL plan the forwarding of a backlog with statistics of another mix of tasks as a
     *       read of 12,000 entries instead of 2,000; the listing gets its order from an incremental
     *       sort of equal {@code process_at} values instead.)</li>
     * </ul>
     * The counts are filled from the table once, in the migration.
     */
    List<String> schemaV3(String p) {
        String t = p + "tasks";
        String counts = p + "task_counts";
        List<String> ddl = new java.util.ArrayList<>();
        ddl.add("ALTER TABLE " + t + " ADD COLUMN result " + kind.blobType());
        ddl.add("CREATE TABLE IF NOT EXISTS " + counts + " (queue VARCHAR(200) NOT NULL, state VARCHAR(16) NOT NULL, "
                + "shard INTEGER NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (queue, state, shard))");
        if (this == POSTGRESQL) {
            String add = "INSERT INTO " + counts + " (queue, state, shard, n) SELECT queue, state, pg_backend_pid(), SUM(d) "
                    + "FROM (%s) changes GROUP BY queue, state HAVING SUM(d) <> 0 "
                    + "ON CONFLICT (queue, state, shard) DO UPDATE SET n = " + counts + ".n + excluded.n;";
            ddl.add("CREATE OR REPLACE FUNCTION " + p + "task_count() RETURNS trigger LANGUAGE plpgsql "
                    + "SET search_path FROM CURRENT AS $count$ BEGIN "
                    + "IF TG_OP = 'INSERT' THEN " + add.formatted("SELECT queue, state, 1 AS d FROM new_rows")
                    + " ELSIF TG_OP = 'DELETE' THEN " + add.formatted("SELECT queue, state, -1 AS d FROM old_rows")
                    + " ELSE " + add.formatted("SELECT queue, state, 1 AS d FROM new_rows "
                            + "UNION ALL SELECT queue, state, -1 FROM old_rows")
                    + " END IF; RETURN NULL; END $count$");
            for (String[] event : new String[][] {
                    {"insert", "INSERT", "NEW TABLE AS new_rows"},
                    {"update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"},
                    {"delete", "DELETE", "OLD TABLE AS old_rows"}}) {
                ddl.add("DROP TRIGGER IF EXISTS " + p + "tasks_count_" + event[0] + " ON " + t);
                ddl.add("CREATE TRIGGER " + p + "tasks_count_" + event[0] + " AFTER " + event[1] + " ON " + t
                        + " REFERENCING " + event[2] + " FOR EACH STATEMENT EXECUTE FUNCTION " + p + "task_count()");
            }
            ddl.add("CREATE INDEX IF NOT EXISTS " + p + "tasks_completed ON " + t + " (queue, completed_at, seq) "
                    + "WHERE state = 'completed'");
            ddl.add("DROP INDEX IF EXISTS " + p + "tasks_waiting");
            ddl.add("CREATE INDEX " + p + "tasks_waiting ON " + t + " (queue, state, process_at) "
                    + "WHERE state IN ('scheduled', 'retry', 'archived')");
        } else {
            String plus = "INSERT INTO " + counts + " (queue, state, shard, n) VALUES (NEW.queue, NEW.state, 0, 1) "
                    + "ON CONFLICT (queue, state, shard) DO UPDATE SET n = n + 1;";
            String minus = "UPDATE " + counts + " SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state AND shard = 0;";
            ddl.add("CREATE TRIGGER IF NOT EXISTS " + p + "tasks_count_insert AFTER INSERT ON " + t + " BEGIN " + plus + " END");
            ddl.add("CREATE TRIGGER IF NOT EXISTS " + p + "tasks_count_update AFTER UPDATE OF queue, state ON " + t
                    + " WHEN OLD.state IS NOT NEW.state OR OLD.queue IS NOT NEW.queue BEGIN " + minus + " " + plus + " END");
            ddl.add("CREATE TRIGGER IF NOT EXISTS " + p + "tasks_count_delete AFTER DELETE ON " + t + " BEGIN " + minus + " END");
            ddl.add("CREATE INDEX IF NOT EXISTS " + p + "tasks_completed ON " + t + " (queue, completed_at) "
                    + "WHERE state = 'completed'");
        }
        // After the triggers: on PostgreSQL creating them locks out writers until this transaction
        // commits, so no change slips between this count and the first counted change.
        ddl.add("DELETE FROM " + counts);
        ddl.add("INSERT INTO " + counts + " (queue, state, shard, n) SELECT queue, state, 0, COUNT(*) FROM " + t
                + " GROUP BY queue, state");
        return ddl;
    }

    /**
     * Folds every connection's counter shard into shard 0 (PostgreSQL; nothing to do on SQLite): rows
     * a transaction is writing now are skipped ({@code SKIP LOCKED}), so this never waits for a worker.
     * Run under an advisory lock, so that two folds never lock shard 0 rows in opposite orders.
     */
    String foldCounts(String p) {
        if (this != POSTGRESQL) {
            return null;
        }
        String counts = p + "task_counts";
        return "WITH moved AS (DELETE FROM " + counts + " WHERE shard <> 0 AND (queue, state, shard) IN (SELECT queue, state, "
                + "shard FROM " + counts + " WHERE shard <> 0 FOR UPDATE SKIP LOCKED) RETURNING queue, state, n) "
                + "INSERT INTO " + counts + " (queue, state, shard, n) SELECT queue, state, 0, SUM(n) FROM moved "
                + "GROUP BY queue, state ON CONFLICT (queue, state, shard) DO UPDATE SET n = " + counts + ".n + excluded.n";
    }

    /** The DDL for schema version 1, in order. */
    List<String> schemaV1(String p) {
        return List.of(
                "CREATE TABLE IF NOT EXISTS " + p + "tasks ("
                        + "id VARCHAR(200) PRIMARY KEY, "
                        + sequenceColumn
                        + "queue VARCHAR(200) NOT NULL, "
                        + "type VARCHAR(200) NOT NULL, "
                        + "payload " + kind.blobType() + " NOT NULL, "
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
