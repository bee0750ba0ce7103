package io.courier.tasks.sql;

import io.courier.JsonCodec;
import io.courier.sql.AdvisoryLocks;
import io.courier.sql.DatabaseKind;
import io.courier.sql.Migrator;
import io.courier.sql.SchemaTooNewException;
import io.courier.sql.SqlErrors;
import io.courier.sql.SqlPool;
import io.courier.sql.TablePrefix;
import io.courier.tasks.DailyStats;
import io.courier.tasks.DuplicateTaskException;
import io.courier.tasks.QueueInfo;
import io.courier.tasks.ServerInfo;
import io.courier.tasks.TaskIdConflictException;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskState;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.ArrivalListeners;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.NewTask;
import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TransactionalTaskStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * A task store in a SQL database: an embedded SQLite file (the zero-setup default) or PostgreSQL.
 *
 * <pre>{@code
 * try (SqlTaskStore store = SqlTaskStore.sqlite(Path.of("data/tasks.db"))) { ... }
 * try (SqlTaskStore store = SqlTaskStore.postgres("jdbc:postgresql://db/app", "app", secret)) { ... }
 * SqlTaskStore store = SqlTaskStore.builder(myDataSource).tablePrefix("jobs_").build();  // your pool
 * }</pre>
 *
 * <p><b>Schema.</b> Created on first use (tables {@code <prefix>tasks}, {@code <prefix>task_unique},
 * {@code <prefix>task_queues}, {@code <prefix>task_stats}, {@code <prefix>task_servers},
 * {@code <prefix>task_schedules}, {@code <prefix>task_counts} and {@code <prefix>task_schema}, which
 * holds one row per applied schema version). Stores with different prefixes in one database are
 * independent. Creation and upgrades are serialized between processes and run in one
 * transaction: a database of an older version (tables of an earlier Courier) is migrated to
 * {@link #SCHEMA_VERSION} when the store opens, and one whose schema is newer than this library is
 * refused with a {@link TaskStoreException}. On PostgreSQL an upgrade builds indexes and so blocks
 * writes to the tasks table while it runs (seconds per million tasks).
 *
 * <p><b>Claiming.</b> On PostgreSQL a claim is one {@code UPDATE ... WHERE id IN (SELECT ... FOR
 * UPDATE SKIP LOCKED) RETURNING ...}: workers of many processes never wait for each other's rows.
 * It reads a partial index whose predicate and order are exactly the claim's, and starts past the
 * last task the previous full claim took, so that a long burn-down does not step over the index
 * entries of every task already claimed (see {@code docs/tasks.md}, "PostgreSQL hot path"). Its
 * transaction turns bitmap scans, sequential scans and sorts off, so that it reads about as many
 * index entries as it takes tasks whatever the table's statistics say. So do the statements every
 * server runs periodically: forwarding due scheduled and retry tasks, recovering expired leases and
 * deleting expired completed tasks each walk an index in the order of their {@code LIMIT}.
 * On SQLite every write is a {@code BEGIN IMMEDIATE} transaction: one writer at a time, which is
 * what SQLite offers; the claim is the same {@code UPDATE ... RETURNING}.
 *
 * <p><b>Inspector.</b> Counts per queue and state come from {@code task_counts}, which triggers on
 * the tasks table keep in the transaction of every change (see {@code docs/tasks.md}, "Counting"),
 * so {@link #queueInfo} and {@link #queueNames} read no task; each listing walks an index in its
 * order. With 1,000,000 tasks every inspector call answers in about a millisecond or less.
 *
 * <p><b>Waking servers.</b> The store announces new and scheduled tasks ({@link TaskArrivals}), so
 * idle servers start them within milliseconds: on PostgreSQL with {@code NOTIFY} right after the
 * commit (inside the caller's transaction for {@link #enqueue(Connection, NewTask)}), received by a
 * connection of the pool that {@code LISTEN}s from the first server's start until {@link #close()};
 * on SQLite within this JVM only, to the servers of every store on the same file and table prefix
 * (servers in other processes poll).
 *
 * <p><b>Transactions.</b> {@link #enqueue(Connection, NewTask)} writes with the caller's connection,
 * so the task commits or rolls back with the caller's own rows.
 *
 * <p><b>Durability.</b> PostgreSQL as configured. The SQLite factory uses WAL with
 * {@code synchronous=NORMAL}: committed tasks survive a crash or kill of the process; a power loss
 * may lose the last commits. Pass your own data source for {@code synchronous=FULL}.
 *
 * <p>Thread-safe. {@link #close()} closes the pool only if this store created it.
 */
public final class SqlTaskStore implements TransactionalTaskStore, TaskArrivals {

    /** Prefix of every table name unless another is given. */
    public static final String DEFAULT_TABLE_PREFIX = "courier_";
    /**
     * The schema version this library writes and reads. Version 2 replaced PostgreSQL's indexes with
     * partial ones (see {@code docs/tasks.md}); version 3 added task results, per-queue counts kept by
     * triggers and an index for the completed listing. An older schema is upgraded when the store opens.
     */
    public static final int SCHEMA_VERSION = 3;

    private static final String COLUMNS = "id, queue, type, payload, state, retried, max_retry, timeout_ms, deadline_ms, "
            + "retention_ms, enqueued_at, process_at, last_error, last_failed_at, started_at, lease_owner, "
            + "lease_expires_at, completed_at, result";
    private static final int BULK_LIMIT = 1000;
    /** How long a caller waits for a pooled connection of a pool this store created. */
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
    /** How long a writer of {@link #sqlite} waits for another connection's write lock. */
    private static final Duration SQLITE_BUSY_TIMEOUT = Duration.ofSeconds(30);
    private static final String BUSY_TIMEOUT_ADVICE = "pass SqlTaskStore.builder a DataSource with a longer busy timeout"
            + " (SqlTaskStore.sqlite waits 30 s)";
    private static final long CLAIM_CURSOR_LIFETIME_MILLIS = 1000;
    private static final long CLAIM_CURSOR_LIFETIME_NANOS = CLAIM_CURSOR_LIFETIME_MILLIS * 1_000_000;

    private final SqlPool pool;
    private final DataSource dataSource;
    private final SqlDialect dialect;
    private final String target;
    private final TablePrefix prefix;
    private final String p;
    private final String tasks;
    private final String uniques;
    private final String queues;
    private final String stats;
    private final String servers;
    private final String schedules;
    private final String counts;
    private final Map<String, ClaimCursor> claimCursors = new java.util.concurrent.ConcurrentHashMap<>();
    private final SqlArrivals arrivals;

    private SqlTaskStore(SqlPool pool, String prefix) {
        this.pool = pool;
        this.dataSource = pool.dataSource();
        this.prefix = new TablePrefix(prefix);
        this.p = prefix;
        this.tasks = prefix + "tasks";
        this.uniques = prefix + "task_unique";
        this.queues = prefix + "task_queues";
        this.stats = prefix + "task_stats";
        this.servers = prefix + "task_servers";
        this.schedules = prefix + "task_schedules";
        this.counts = prefix + "task_counts";
        try (Connection c = dataSource.getConnection()) {
            this.dialect = SqlDialect.of(DatabaseKind.detect(c));
        } catch (SQLException e) {
            pool.close();
            throw new TaskStoreException("cannot connect to the task database: "
                    + SqlErrors.explain(pool.target(), e, BUSY_TIMEOUT_ADVICE).detail(), e);
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        this.target = pool.kind() != null ? pool.target() : SqlPool.givenTarget(dialect.kind());
        try {
            migrate();
            this.arrivals = SqlArrivals.create(dialect, dataSource, prefix);
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    /**
     * A store in a SQLite file (created with its parent directories if missing), with its own small
     * connection pool. WAL journal, {@code synchronous=NORMAL}, 30 s busy timeout, immediate write
     * transactions.
     *
     * @throws io.courier.MissingDependencyException when sqlite-jdbc ({@code org.xerial:sqlite-jdbc}) was
     *                                               excluded from the classpath
     */
    public static SqlTaskStore sqlite(Path file) {
        Objects.requireNonNull(file, "file");
        DatabaseKind.SQLITE.requireDriver(SqlTaskStore.class, "SqlTaskStore.sqlite");
        SqlPool pool;
        try {
            pool = SqlPool.sqlite(file, SqlPool.Settings.builder("courier-tasks-sqlite")
                    .maxPoolSize(8)
                    .minIdle(1)
                    .connectTimeout(CONNECT_TIMEOUT)
                    .busyTimeout(SQLITE_BUSY_TIMEOUT)
                    .immediateTransactions(true)   // write() begins by turning auto-commit off
                    .failFast(true)
                    .build());
        } catch (java.io.IOException e) {
            throw new TaskStoreException("cannot create the directory for " + file + ": " + e.getMessage(), e);
        } catch (SQLException e) {
            throw new TaskStoreException("cannot connect to the task database: "
                    + SqlErrors.explain(SqlPool.sqliteTarget(file), e, BUSY_TIMEOUT_ADVICE).detail(), e);
        }
        return new SqlTaskStore(pool, DEFAULT_TABLE_PREFIX);
    }

    /**
     * A store in PostgreSQL with its own pool of up to 10 connections, tables prefixed
     * {@value #DEFAULT_TABLE_PREFIX}. The tables go to the connection's current schema: add
     * {@code ?currentSchema=name} to the URL to choose another. Needs the PostgreSQL driver
     * ({@code org.postgresql:postgresql}, an optional dependency of this module).
     *
     * @throws io.courier.MissingDependencyException when the driver is not on the classpath
     * @throws TaskStoreException when the database cannot be reached or has a newer schema
     */
    public static SqlTaskStore postgres(String jdbcUrl, String user, String password) {
        return postgres(jdbcUrl, user, password, DEFAULT_TABLE_PREFIX);
    }

    /**
     * A store in PostgreSQL with its own pool of up to 10 connections and its own table prefix (see
     * {@link Builder#tablePrefix(String)}): stores with different prefixes in one database (or schema)
     * never see each other's tasks, queues, counters or servers. Needs the PostgreSQL driver
     * ({@code org.postgresql:postgresql}, an optional dependency of this module).
     *
     * @throws IllegalArgumentException if the prefix is not lower-case letters, digits and underscores
     * @throws io.courier.MissingDependencyException when the driver is not on the classpath
     * @throws TaskStoreException when the database cannot be reached or has a newer schema
     */
    public static SqlTaskStore postgres(String jdbcUrl, String user, String password, String tablePrefix) {
        String prefix = Builder.checkPrefix(tablePrefix);
        DatabaseKind.POSTGRESQL.requireDriver(SqlTaskStore.class, "SqlTaskStore.postgres");
        Objects.requireNonNull(jdbcUrl, "jdbcUrl");
        SqlPool pool;
        try {
            pool = SqlPool.postgres(jdbcUrl, user, password, SqlPool.Settings.builder("courier-tasks-postgresql")
                    .maxPoolSize(10)
                    .minIdle(10)
                    .connectTimeout(CONNECT_TIMEOUT)
                    .failFast(true)
                    .build());
        } catch (SQLException e) {
            throw new TaskStoreException("cannot connect to the task database: "
                    + SqlErrors.explain(SqlPool.postgresTarget(jdbcUrl, user), e).detail(), e);
        }
        return new SqlTaskStore(pool, prefix);
    }

    /** A builder over the caller's data source (not closed by {@link #close()}). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(dataSource);
    }

    /** The data source this store uses, e.g. to open a connection for {@link #enqueue(Connection, NewTask)}. */
    public DataSource dataSource() {
        return dataSource;
    }

    /** The table prefix. */
    public String tablePrefix() {
        return p;
    }

    @Override
    public String name() {
        return dialect.kind().id();
    }

    @Override
    public void close() {
        try {
            arrivals.close();
        } finally {
            closeOwned();
        }
    }

    private void closeOwned() {
        pool.close();
    }

    // ------------------------------------------------------------------ schema

    /**
     * Creates or upgrades the schema with the shared migrator: the versions are recorded in
     * {@code <prefix>task_schema}, one column, as every release of the store has kept them.
     */
    private void migrate() {
        try {
            Migrator.forTable(dataSource, dialect.kind(), prefix, "task_schema")
                    .withVersionOnlyTable()
                    .apply(dialect.migrations(p));
        } catch (SQLException | SchemaTooNewException e) {
            throw failure("create or check the schema of tables '" + p + "*'", e);
        }
    }

    // ------------------------------------------------------------------ client

    @Override
    public TaskInfo enqueue(NewTask task) {
        Objects.requireNonNull(task, "task");
        return write("enqueue task " + task.id(), c -> insert(c, task),
                c -> arrivals.committed(c, task.queue(), announcement(task)));
    }

    @Override
    public TaskInfo enqueue(Connection connection, NewTask task) {
        Objects.requireNonNull(connection, "connection");
        Objects.requireNonNull(task, "task");
        try {
            if (connection.getAutoCommit()) {
                connection.setAutoCommit(false);
                try {
                    TaskInfo info = insert(connection, task);
                    connection.commit();
                    arrivals.committed(connection, task.queue(), announcement(task));
                    return info;
                } catch (SQLException | RuntimeException e) {
                    rollbackQuietly(connection);
                    throw e;
                } finally {
                    connection.setAutoCommit(true);
                }
            }
            Savepoint sp = connection.setSavepoint();
            try {
                TaskInfo info = insert(connection, task);
                arrivals.inCallerTransaction(connection, task.queue(), announcement(task));
                connection.releaseSavepoint(sp);
                return info;
            } catch (SQLException | RuntimeException e) {
                try {
                    connection.rollback(sp);
                } catch (SQLException re) {
                    e.addSuppressed(re);
                }
                throw e;
            }
        } catch (SQLException e) {
            throw failure("enqueue task " + task.id() + " in the caller's transaction", e);
        }
    }

    private TaskInfo insert(Connection c, NewTask t) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + tasks + " (id, queue, type, payload, state, retried, "
                + "max_retry, timeout_ms, deadline_ms, retention_ms, unique_key, enqueued_at, process_at) "
                + "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")) {
            ps.setString(1, t.id());
            ps.setString(2, t.queue());
            ps.setString(3, t.type());
            ps.setBytes(4, t.payload());
            ps.setString(5, t.initialState().wireName());
            ps.setInt(6, t.maxRetry());
            setNullableLong(ps, 7, t.timeout().map(Duration::toMillis).orElse(null));
            setNullableLong(ps, 8, t.deadline().map(Instant::toEpochMilli).orElse(null));
            ps.setLong(9, t.retention().toMillis());
            ps.setString(10, t.uniqueKey().orElse(null));
            ps.setLong(11, t.enqueuedAt().toEpochMilli());
            ps.setLong(12, t.processAt().toEpochMilli());
            if (ps.executeUpdate() == 0) {
                throw new TaskIdConflictException(t.id());
            }
        }
        if (t.periodicTick().isPresent()) {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + schedules + " (schedule_id, last_tick) VALUES (?, ?) "
                    + "ON CONFLICT (schedule_id) DO UPDATE SET last_tick = excluded.last_tick "
                    + "WHERE " + schedules + ".last_tick < excluded.last_tick")) {
                ps.setString(1, t.periodicTick().get().scheduleId());
                ps.setLong(2, t.periodicTick().get().tick().toEpochMilli());
                if (ps.executeUpdate() == 0) {
                    throw new DuplicateTaskException(t.queue(), t.type(), t.duplicateMessage());
                }
            }
        }
        if (t.uniqueKey().isPresent()) {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + uniques + " (unique_key, task_id, expires_at) "
                    + "VALUES (?, ?, ?) ON CONFLICT (unique_key) DO UPDATE SET task_id = excluded.task_id, "
                    + "expires_at = excluded.expires_at WHERE " + uniques + ".expires_at <= ?")) {
                long now = t.enqueuedAt().toEpochMilli();
                ps.setString(1, t.uniqueKey().get());
                ps.setString(2, t.id());
                ps.setLong(3, now + Math.max(1, t.uniqueTtl().orElseThrow().toMillis()));
                ps.setLong(4, now);
                if (ps.executeUpdate() == 0) {
                    throw new DuplicateTaskException(t.queue(), t.type(), t.duplicateMessage());
                }
            }
        }
        return t.toInfo();
    }

    /** What enqueuing {@code t} announces: ready now, or scheduled for its process time. */
    private static String announcement(NewTask t) {
        return t.initialState() == TaskState.PENDING ? ArrivalListeners.readyMessage(1)
                : ArrivalListeners.scheduledMessage(t.processAt());
    }

    // ------------------------------------------------------------------ server

    @Override
    public List<ClaimedTask> claim(String queue, int max, String workerId, Instant now, Duration lease) {
        if (max < 1) {
            return List.of();
        }
        String token = UUID.randomUUID().toString();
        ClaimCursor cursor = dialect == SqlDialect.POSTGRESQL ? claimCursors.get(queue) : null;
        if (cursor != null && System.nanoTime() - cursor.sinceNanos() > CLAIM_CURSOR_LIFETIME_NANOS) {
            claimCursors.remove(queue, cursor);
            cursor = null;
        }
        ClaimCursor from = cursor;
        List<ClaimedTask> claimed = new ArrayList<>(max);
        long[] lastKey = writeRelaxed("claim from queue '" + queue + "'", CLAIM_PLAN_GUARD, c -> {
            claimed.clear();
            long[] last = claimInto(c, claimed, queue, max, workerId, token, now, lease, from);
            if (from != null && claimed.isEmpty()) {
                // Nothing past the cursor: tasks behind it (forwarded retries, requeued tasks) may still wait.
                last = claimInto(c, claimed, queue, max, workerId, token, now, lease, null);
            }
            return last;
        });
        if (dialect == SqlDialect.POSTGRESQL) {
            if (claimed.size() == max && lastKey != null) {
                ClaimCursor next = new ClaimCursor(lastKey[0], lastKey[1], from != null ? from.sinceNanos() : System.nanoTime());
                claimCursors.merge(queue, next, ClaimCursor::later);
            } else if (from != null) {
                claimCursors.remove(queue, from);
            }
        }
        return claimed;
    }

    /**
     * One claim statement: up to {@code max} pending tasks of {@code queue} in order, past
     * {@code cursor} if given. Returns the (process_at, seq) key of the last task claimed (PostgreSQL;
     * null on SQLite or when nothing was claimed).
     */
    private long[] claimInto(Connection c, List<ClaimedTask> claimed, String queue, int max, String workerId,
                             String token, Instant now, Duration lease, ClaimCursor cursor) throws SQLException {
        boolean pg = dialect == SqlDialect.POSTGRESQL;
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'active', lease_owner = ?, "
                + "lease_token = ?, lease_expires_at = ?, started_at = ? WHERE id IN (SELECT id FROM " + tasks
                + " WHERE queue = ? AND state = 'pending'" + (cursor != null ? " AND (process_at, seq) > (?, ?)" : "")
                + " AND NOT EXISTS (SELECT 1 FROM " + queues
                + " WHERE name = ? AND paused = 1) ORDER BY process_at, " + dialect.insertionOrder()
                + " LIMIT ?" + dialect.skipLocked()
                + ") RETURNING " + COLUMNS + (pg ? ", seq" : ""))) {
            int i = 1;
            ps.setString(i++, workerId);
            ps.setString(i++, token);
            ps.setLong(i++, now.plus(lease).toEpochMilli());
            ps.setLong(i++, now.toEpochMilli());
            ps.setString(i++, queue);
            if (cursor != null) {
                ps.setLong(i++, cursor.processAt());
                ps.setLong(i++, cursor.seq());
            }
            ps.setString(i++, queue);
            ps.setInt(i, max);
            long[] last = null;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    claimed.add(new ClaimedTask(toInfo(rs), token));
                    if (pg) {
                        long[] key = {rs.getLong("process_at"), rs.getLong("seq")};
                        if (last == null || ClaimCursor.compare(key, last) > 0) {
                            last = key;
                        }
                    }
                }
            }
            return last;
        }
    }

    /**
     * The planner settings of {@link #CLAIM_PLAN_GUARD} and {@link #writeGuarded}, for the rest of the
     * transaction: no bitmap scans, sequential scans or sorts, and no JIT compilation. Every statement
     * run under them has an index whose order is its {@code ORDER BY} and stops at a {@code LIMIT};
     * walking that index in order is then the one plan that needs none of the three, whatever the
     * statistics say, and it reads about as many entries as the statement changes rows. The planner
     * prices a plan that cannot avoid a disabled step at over 10^10, far above {@code jit_above_cost}:
     * had an index gone missing, such a plan would also be compiled, which took 122 ms for a statement
     * whose own work took well under a millisecond; these statements touch at most a few thousand rows,
     * so compiling never pays. Such a statement must never run without these settings either: a generic
     * plan that PostgreSQL caches for a prepared statement (the driver prepares a statement on the
     * server from its fifth use on a connection) keeps the settings it was first planned with.
     */
    private static final String PLAN_GUARD = "SET LOCAL enable_bitmapscan TO OFF; SET LOCAL enable_seqscan TO OFF;"
            + " SET LOCAL enable_sort TO OFF; SET LOCAL jit TO OFF";

    /**
     * Sent with the claim transaction's {@code SET LOCAL synchronous_commit}, in the request that
     * already opens it: no bitmap scans, sequential scans or sorts (nor JIT compilation, see
     * {@link #PLAN_GUARD}) until that transaction ends, so that both claims it may run walk
     * {@code tasks_pending} in claim order and stop after {@code max} tasks whatever the table's
     * statistics say. Left to the statistics, a claim that expects no more pending tasks than it takes
     * gains nothing by stopping early, and the planner prices a bitmap scan of all of them plus a sort
     * below the ordered index scan. Statistics taken while the queue was short make that estimate once
     * a burst has arrived, until autovacuum analyzes the table again (after a tenth of it has changed):
     * with 1,000,000 tasks kept for their retention, 500 of them pending in the queue when analyzed,
     * and 500,000 enqueued since, a claim of 100 read and sorted all 500,000 (spilling to disk) in
     * 180 ms instead of 1.5 ms, and a drain through this store spent 40% of its time in such claims. A
     * table never analyzed kept the index order in tests up to 5,000,000 tasks (the planner expects a
     * handful), but by less than 1% of the plan's cost. Without sequential scans a large claim also
     * looks its tasks up by primary key rather than hashing them against the whole table.
     */
    private static final String CLAIM_PLAN_GUARD = "; " + PLAN_GUARD;

    /**
     * Where a queue's claims have got to in the pending index (PostgreSQL). A burn-down claims from
     * the front of the index, and the entries of tasks claimed moments ago stay in it until vacuum
     * removes them: without a cursor every claim would step over all of them again, so the cost of a
     * claim would grow with the number of tasks worked off. A claim starts past the cursor instead.
     * Tasks can become pending behind it (a forwarded retry, a task requeued at shutdown), so the
     * cursor is dropped when a claim past it finds less than a full batch (the next claim starts from
     * the front; when it found nothing, the same transaction looks from the front at once) and, in any
     * case, {@value #CLAIM_CURSOR_LIFETIME_MILLIS} ms after it was set: a task behind it waits at most
     * about that long. Per store instance; another process has its own.
     */
    private record ClaimCursor(long processAt, long seq, long sinceNanos) {

        static int compare(long[] a, long[] b) {
            int c = Long.compare(a[0], b[0]);
            return c != 0 ? c : Long.compare(a[1], b[1]);
        }

        /** The cursor further on, keeping the earlier start time (so the lifetime is never extended). */
        static ClaimCursor later(ClaimCursor a, ClaimCursor b) {
            ClaimCursor further = compare(new long[] {a.processAt, a.seq}, new long[] {b.processAt, b.seq}) >= 0 ? a : b;
            return new ClaimCursor(further.processAt, further.seq, Math.min(a.sinceNanos, b.sinceNanos));
        }
    }

    @Override
    public Set<String> renewLeases(Collection<Lease> leases, Instant expiresAt) {
        if (leases.isEmpty()) {
            return Set.of();
        }
        // In id order, as completeAll locks, so that the two never deadlock.
        List<Lease> list = leases.stream().sorted(java.util.Comparator.comparing(Lease::taskId)).toList();
        return write("renew " + list.size() + " lease(s)", c -> {
            Set<String> lost = new HashSet<>();
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET lease_expires_at = ? "
                    + "WHERE id = ? AND lease_token = ? AND state = 'active'")) {
                for (Lease l : list) {
                    ps.setLong(1, expiresAt.toEpochMilli());
                    ps.setString(2, l.taskId());
                    ps.setString(3, l.token());
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                for (int i = 0; i < list.size(); i++) {
                    if (counts[i] == 0) {
                        lost.add(list.get(i).taskId());
                    }
                }
            }
            return lost;
        });
    }

    @Override
    public boolean complete(Lease lease, Instant now) {
        return write("complete task " + lease.taskId(), c -> {
            Optional<String> uniqueKey;
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + tasks + " WHERE id = ? AND lease_token = ? "
                    + "AND state = 'active' AND retention_ms = 0 RETURNING unique_key")) {
                ps.setString(1, lease.taskId());
                ps.setString(2, lease.token());
                uniqueKey = returnedUniqueKey(ps);
            }
            if (uniqueKey == null) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'completed', "
                        + "completed_at = ?, expires_at = ? + retention_ms, lease_owner = NULL, lease_token = NULL, "
                        + "lease_expires_at = NULL WHERE id = ? AND lease_token = ? AND state = 'active' RETURNING unique_key")) {
                    ps.setLong(1, now.toEpochMilli());
                    ps.setLong(2, now.toEpochMilli());
                    ps.setString(3, lease.taskId());
                    ps.setString(4, lease.token());
                    uniqueKey = returnedUniqueKey(ps);
                }
            }
            if (uniqueKey == null) {
                return false;
            }
            if (uniqueKey.isPresent()) {
                releaseUnique(c, uniqueKey.get(), lease.taskId());
            }
            return true;
        });
    }

    @Override
    public Set<String> completeAll(Collection<Lease> leases, Instant now) {
        if (leases.isEmpty()) {
            return Set.of();
        }
        List<Lease> list = List.copyOf(leases);
        return writeRelaxed("complete " + list.size() + " task(s)", c -> {
            Map<String, String> completed = new HashMap<>();   // task id -> unique key or null
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + tasks + " WHERE id IN ("
                    + lockInIdOrder(list.size(), "retention_ms = 0") + ") RETURNING id, unique_key")) {
                bindLeases(ps, 1, list);
                collectCompleted(ps, completed);
            }
            if (completed.size() < list.size()) {
                List<Lease> rest = list.stream().filter(l -> !completed.containsKey(l.taskId())).toList();
                try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'completed', "
                        + "completed_at = ?, expires_at = ? + retention_ms, lease_owner = NULL, lease_token = NULL, "
                        + "lease_expires_at = NULL WHERE id IN (" + lockInIdOrder(rest.size(), "retention_ms > 0")
                        + ") RETURNING id, unique_key")) {
                    ps.setLong(1, now.toEpochMilli());
                    ps.setLong(2, now.toEpochMilli());
                    bindLeases(ps, 3, rest);
                    collectCompleted(ps, completed);
                }
            }
            if (completed.values().stream().anyMatch(Objects::nonNull)) {
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + uniques + " WHERE unique_key = ? AND task_id = ?")) {
                    for (Map.Entry<String, String> e : completed.entrySet()) {
                        if (e.getValue() != null) {
                            ps.setString(1, e.getValue());
                            ps.setString(2, e.getKey());
                            ps.addBatch();
                        }
                    }
                    ps.executeBatch();
                }
            }
            Set<String> lost = new HashSet<>();
            for (Lease l : list) {
                if (!completed.containsKey(l.taskId())) {
                    lost.add(l.taskId());
                }
            }
            return lost;
        });
    }

    /**
     * A sub-select of the ids of active tasks held by one of {@code n} leases (and matching
     * {@code condition}), locked in id order. The plain {@code id IN} lets the database go through the
     * primary key; the row-value test then requires each id's own token. Locking in id order, as
     * {@link #renewLeases} does, keeps a heartbeat and a batch of completions from deadlocking.
     */
    private String lockInIdOrder(int n, String condition) {
        return "SELECT id FROM " + tasks + " WHERE state = 'active' AND " + condition + " AND id IN (" + marks(n)
                + ") AND (id, lease_token) IN (VALUES " + String.join(", ", java.util.Collections.nCopies(n, "(?, ?)"))
                + ") ORDER BY id" + dialect.forUpdate();
    }

    /** Binds the parameters of {@link #lockInIdOrder}; returns the next parameter index. */
    private static int bindLeases(PreparedStatement ps, int first, List<Lease> leases) throws SQLException {
        int i = first;
        for (Lease l : leases) {
            ps.setString(i++, l.taskId());
        }
        for (Lease l : leases) {
            ps.setString(i++, l.taskId());
            ps.setString(i++, l.token());
        }
        return i;
    }

    private static void collectCompleted(PreparedStatement ps, Map<String, String> completed) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                completed.put(rs.getString(1), rs.getString(2));
            }
        }
    }

    /** Null when no row came back; the row's unique key (maybe empty) otherwise. */
    private static Optional<String> returnedUniqueKey(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            return Optional.ofNullable(rs.getString(1));
        }
    }

    private void releaseUnique(Connection c, String key, String taskId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + uniques + " WHERE unique_key = ? AND task_id = ?")) {
            ps.setString(1, key);
            ps.setString(2, taskId);
            ps.executeUpdate();
        }
    }

    @Override
    public boolean retry(Lease lease, Instant now, Instant processAt, String error, boolean countRetry) {
        return write("retry task " + lease.taskId(), c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'retry', process_at = ?, "
                    + "last_error = ?, last_failed_at = ?, retried = retried + ?, started_at = NULL, lease_owner = NULL, "
                    + "lease_token = NULL, lease_expires_at = NULL WHERE id = ? AND lease_token = ? AND state = 'active'")) {
                ps.setLong(1, processAt.toEpochMilli());
                ps.setString(2, error);
                ps.setLong(3, now.toEpochMilli());
                ps.setInt(4, countRetry ? 1 : 0);
                ps.setString(5, lease.taskId());
                ps.setString(6, lease.token());
                return ps.executeUpdate() == 1;
            }
        });
    }

    @Override
    public boolean archive(Lease lease, Instant now, String error) {
        return write("archive task " + lease.taskId(), c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'archived', process_at = ?, "
                    + "last_error = ?, last_failed_at = ?, started_at = NULL, lease_owner = NULL, lease_token = NULL, "
                    + "lease_expires_at = NULL WHERE id = ? AND lease_token = ? AND state = 'active'")) {
                ps.setLong(1, now.toEpochMilli());
                ps.setString(2, error);
                ps.setLong(3, now.toEpochMilli());
                ps.setString(4, lease.taskId());
                ps.setString(5, lease.token());
                return ps.executeUpdate() == 1;
            }
        });
    }

    @Override
    public boolean writeResult(Lease lease, byte[] result) {
        Objects.requireNonNull(result, "result");
        return write("write the result of task " + lease.taskId(), c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET result = ? "
                    + "WHERE id = ? AND lease_token = ? AND state = 'active'")) {
                ps.setBytes(1, result);
                ps.setString(2, lease.taskId());
                ps.setString(3, lease.token());
                return ps.executeUpdate() == 1;
            }
        });
    }

    @Override
    public boolean requeue(Lease lease) {
        String queue = write("requeue task " + lease.taskId(), c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'pending', started_at = NULL, "
                    + "lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL "
                    + "WHERE id = ? AND lease_token = ? AND state = 'active' RETURNING queue")) {
                ps.setString(1, lease.taskId());
                ps.setString(2, lease.token());
                return returnedQueue(ps);
            }
        });
        if (queue == null) {
            return false;
        }
        arrivals.committed(queue, ArrivalListeners.readyMessage(1));
        return true;
    }

    /** Runs {@code ps}, an update of one task that returns its queue; returns the queue, or null when no task changed. */
    private static String returnedQueue(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /**
     * {@inheritDoc}
     *
     * <p>One statement, with a branch per queue and state in its sub-select: at most 1,000 tasks per
     * queue and state per call, the earliest due first. On PostgreSQL each branch walks
     * {@code tasks_waiting (queue, state, process_at)} in order and stops at the first task not yet
     * due, in a transaction with bitmap scans, sequential scans and sorts turned off, so that a call
     * reads about as many index entries as it forwards tasks whatever the table's statistics say.
     */
    @Override
    public int forwardDue(Collection<String> queueNames, Instant now) {
        if (queueNames.isEmpty()) {
            return 0;
        }
        // The state spelled out in each branch, not one state IN ('scheduled', 'retry'): an IN list on
        // the index's second column is left out of the index condition whenever the planner expects
        // the leading columns to find few rows anyway (a table never analyzed, or analyzed while
        // empty), and then checked on each heap row. The same index holds every completed task kept
        // for its retention, so with 1,000,000 of them and ten tasks due, every server's forward (once
        // per poll interval, 1 s) read all of them: 270-350 ms and 58,000 buffers per call, now 0.4 ms.
        // Statistics taken while most rows were due, those rows since deleted but not yet vacuumed,
        // planned a sequential scan of the table instead (140 ms). A branch per queue, not
        // queue IN (...): with several queues the index order is not process_at order, so a backlog
        // of 500,000 due tasks was read and sorted whole (spilling to disk) to forward 1,000 of them,
        // 160-400 ms per call whatever the statistics, now 10-22 ms (forwarding 1,009 tasks). The
        // planner settings keep each branch an ordered index walk: without them, statistics that saw
        // most tasks due planned each branch as a bitmap scan plus sort (all due tasks of the queue
        // read) and the update itself as a sequential scan of the table hashed against the ids (on
        // the 20,000 tasks of PostgresPeriodicPlanTest).
        List<String> names = List.copyOf(new java.util.LinkedHashSet<>(queueNames));
        List<String> branches = new ArrayList<>();
        for (String ignored : names) {
            for (String state : List.of("scheduled", "retry")) {
                branches.add("SELECT id FROM " + tasks + " WHERE queue = ? AND state = '" + state + "' AND process_at <= ?"
                        + " ORDER BY process_at LIMIT " + BULK_LIMIT + dialect.skipLocked());
            }
        }
        Map<String, Integer> forwarded = writeGuarded("forward due tasks", c -> {
            Map<String, Integer> perQueue = new TreeMap<>();
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'pending' WHERE id IN ("
                    + unionAll(branches) + ") RETURNING queue")) {
                int i = 1;
                for (String name : names) {
                    for (int state = 0; state < 2; state++) {
                        ps.setString(i++, name);
                        ps.setLong(i++, now.toEpochMilli());
                    }
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        perQueue.merge(rs.getString(1), 1, Integer::sum);
                    }
                }
            }
            return perQueue;
        });
        forwarded.forEach((queue, n) -> arrivals.committed(queue, ArrivalListeners.readyMessage(n)));
        return forwarded.values().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * {@inheritDoc}
     *
     * <p>One statement with a branch per queue and state, each reading the first entry of
     * {@code tasks_waiting} for it on PostgreSQL (of the v1 index on SQLite). On PostgreSQL it runs
     * under the same planner settings as {@link #forwardDue}, which it follows on every pass: left to
     * statistics that expect few scheduled tasks, a branch could be planned as a bitmap scan and a sort
     * of all of them.
     */
    @Override
    public Optional<Instant> nextDueAt(Collection<String> queueNames) {
        if (queueNames.isEmpty()) {
            return Optional.empty();
        }
        List<String> names = List.copyOf(new java.util.LinkedHashSet<>(queueNames));
        List<String> branches = new ArrayList<>();
        for (String ignored : names) {
            for (String state : List.of("scheduled", "retry")) {
                branches.add("SELECT process_at FROM " + tasks + " WHERE queue = ? AND state = '" + state + "'"
                        + " ORDER BY process_at LIMIT 1");
            }
        }
        Work<Optional<Instant>> query = c -> {
            try (PreparedStatement ps = c.prepareStatement(unionAll("process_at", branches))) {
                int i = 1;
                for (String name : names) {
                    ps.setString(i++, name);
                    ps.setString(i++, name);
                }
                long earliest = Long.MAX_VALUE;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        earliest = Math.min(earliest, rs.getLong(1));
                    }
                }
                return earliest == Long.MAX_VALUE ? Optional.empty() : Optional.of(Instant.ofEpochMilli(earliest));
            }
        };
        String what = "find when the next task is due";
        return dialect == SqlDialect.POSTGRESQL ? writeGuarded(what, query) : read(what, query);
    }

    @Override
    public Subscription subscribeArrivals(Collection<String> queueNames, ArrivalListener listener) {
        return arrivals.subscribe(queueNames, listener);
    }

    /**
     * {@inheritDoc}
     *
     * <p>At most 1,000 tasks per queue per call, the earliest expired lease first. On PostgreSQL a
     * branch per queue walks {@code tasks_active (queue, lease_expires_at)} in order and stops at the
     * first lease not yet expired, in a transaction with bitmap scans, sequential scans and sorts
     * turned off, whatever the table's statistics say.
     */
    @Override
    public int recoverExpiredLeases(Collection<String> queueNames, Instant now, String error) {
        if (queueNames.isEmpty()) {
            return 0;
        }
        // In lease_expires_at order, the order of tasks_active; it used to be id order, which no index
        // of active tasks has, so the planner could walk the primary key in id order and test every
        // row, expecting to meet 1,000 expired leases early. Statistics taken while many tasks were
        // active make exactly that estimate, as every lease they saw has expired by the time they are
        // used: with 1,000,000 completed tasks kept, one lease expired, and a quarter of the rows active
        // when analyzed (since deleted, not yet vacuumed), each pass (every 5 s, per queue and server)
        // read the whole table, 160-220 ms and 200,000 buffers, now 1 ms. The planner settings keep the
        // index walk: without them, such statistics on a small table (the test's 20,000 tasks) plan a
        // bitmap scan plus sort and a sequential scan of the table for the update.
        List<String> names = List.copyOf(new java.util.LinkedHashSet<>(queueNames));
        List<String> branches = new ArrayList<>();
        for (String ignored : names) {
            branches.add("SELECT id FROM " + tasks + " WHERE queue = ? AND state = 'active' AND lease_expires_at < ?"
                    + " ORDER BY lease_expires_at LIMIT " + BULK_LIMIT + dialect.skipLocked());
        }
        return writeGuarded("recover expired leases", c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET "
                    + "state = CASE WHEN retried >= max_retry THEN 'archived' ELSE 'retry' END, "
                    + "retried = CASE WHEN retried >= max_retry THEN retried ELSE retried + 1 END, "
                    + "process_at = ?, last_error = ?, last_failed_at = ?, started_at = NULL, lease_owner = NULL, "
                    + "lease_token = NULL, lease_expires_at = NULL WHERE id IN (" + unionAll(branches) + ")")) {
                ps.setLong(1, now.toEpochMilli());
                ps.setString(2, error);
                ps.setLong(3, now.toEpochMilli());
                int i = 4;
                for (String name : names) {
                    ps.setString(i++, name);
                    ps.setLong(i++, now.toEpochMilli());
                }
                return ps.executeUpdate();
            }
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>At most 1,000 tasks per call, those that expired first; expired unique locks and server
     * reports go as well. On PostgreSQL the tasks are found by walking
     * {@code tasks_completed_expires (expires_at)} in order, in a transaction with bitmap scans,
     * sequential scans and sorts turned off, so that a call reads about as many index entries as it
     * deletes tasks whatever the table's statistics say.
     */
    @Override
    public int deleteExpiredCompleted(Instant now) {
        return write("delete expired completed tasks", c -> {
            for (String table : List.of(uniques, servers)) {
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE expires_at <= ?")) {
                    ps.setLong(1, now.toEpochMilli());
                    ps.executeUpdate();
                }
            }
            // Left to the statistics, a table never analyzed (or analyzed while empty) was planned as a
            // bitmap scan, which collects every expired entry before the limit applies: with 500,000
            // expired tasks each call (every 5 s per server) read all of them to delete 1,000, 11-16 ms
            // of an 18-25 ms call, against 0.3-0.6 ms for the index walk (4-9 ms in all, the rest is
            // deleting), so clearing a backlog took time quadratic in its size. The unique locks and
            // server reports above are deleted without the planner settings: those tables have no index
            // on expires_at, a sequential scan is their best plan, and with it disabled the planner
            // would read a whole index too.
            foldCounts(c);
            guardPlans(c);
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + tasks + " WHERE id IN (SELECT id FROM " + tasks
                    + " WHERE state = 'completed' AND expires_at <= ? ORDER BY expires_at LIMIT " + BULK_LIMIT
                    + dialect.skipLocked() + ")")) {
                ps.setLong(1, now.toEpochMilli());
                return ps.executeUpdate();
            }
        });
    }

    /**
     * Folds the per-connection counter shards into one row per queue and state (PostgreSQL; see
     * {@link SqlDialect#foldCounts}), unless another store is folding right now. Keeps
     * {@code task_counts} at a few rows per queue and state as connections come and go.
     */
    private void foldCounts(Connection c) throws SQLException {
        String fold = dialect.foldCounts(p);
        if (fold == null) {
            return;
        }
        if (!AdvisoryLocks.tryLock(c, AdvisoryLocks.id(prefix, "task_counts/fold"))) {
            return;
        }
        try (Statement s = c.createStatement()) {
            s.executeUpdate(fold);
            s.executeUpdate("DELETE FROM " + counts + " WHERE shard = 0 AND n = 0");
        }
    }

    /**
     * Sub-selects of ids joined with {@code UNION ALL}, each in a derived table of its own so that it
     * keeps its {@code ORDER BY}, {@code LIMIT} and row locks (SQLite and PostgreSQL alike).
     */
    private static String unionAll(List<String> selects) {
        return unionAll("id", selects);
    }

    /** {@link #unionAll(List)} of sub-selects of {@code column}. */
    private static String unionAll(String column, List<String> selects) {
        StringBuilder sql = new StringBuilder();
        for (int i = 0; i < selects.size(); i++) {
            sql.append(i == 0 ? "" : " UNION ALL ").append("SELECT ").append(column).append(" FROM (").append(selects.get(i))
                    .append(") b").append(i);
        }
        return sql.toString();
    }

    @Override
    public void recordStats(String queue, LocalDate day, long processed, long failed) {
        write("record counters of queue '" + queue + "'", c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + stats + " (queue, day, processed, failed) "
                    + "VALUES (?, ?, ?, ?) ON CONFLICT (queue, day) DO UPDATE SET processed = " + stats
                    + ".processed + excluded.processed, failed = " + stats + ".failed + excluded.failed")) {
                ps.setString(1, queue);
                ps.setString(2, day.toString());
                ps.setLong(3, processed);
                ps.setLong(4, failed);
                ps.executeUpdate();
            }
            return null;
        });
    }

    @Override
    public void heartbeatServer(ServerInfo info, Instant expiresAt) {
        String json = new String(JsonCodec.defaults().encode(info), StandardCharsets.UTF_8);
        write("record server " + info.id(), c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + servers + " (id, info, expires_at) VALUES (?, ?, ?) "
                    + "ON CONFLICT (id) DO UPDATE SET info = excluded.info, expires_at = excluded.expires_at")) {
                ps.setString(1, info.id());
                ps.setString(2, json);
                ps.setLong(3, expiresAt.toEpochMilli());
                ps.executeUpdate();
            }
            return null;
        });
    }

    @Override
    public void removeServer(String serverId) {
        write("remove server " + serverId, c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + servers + " WHERE id = ?")) {
                ps.setString(1, serverId);
                ps.executeUpdate();
            }
            return null;
        });
    }

    // ------------------------------------------------------------------ inspector

    @Override
    public List<String> queueNames() {
        return read("list queues", c -> {
            Set<String> names = new TreeSet<>();
            // From the counts, not the tasks: a queue with tasks has a non-zero count in some state. A
            // prepared statement, so that PostgreSQL plans it once per connection (planning this union
            // took 7-12 ms on a busy machine, many times its execution).
            try (PreparedStatement ps = c.prepareStatement("SELECT queue FROM " + counts + " GROUP BY queue, state "
                    + "HAVING SUM(n) <> 0 UNION SELECT name FROM " + queues + " UNION SELECT DISTINCT queue FROM " + stats);
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                }
            }
            return List.copyOf(names);
        });
    }

    @Override
    public QueueInfo queueInfo(String queue, LocalDate day) {
        return read("read queue '" + queue + "'", c -> {
            Map<String, Long> byState = new HashMap<>();
            // One round trip: the counts the triggers keep (see SqlDialect.schemaV3; a few rows per
            // queue and state, one per connection that changed tasks since the last fold, however many
            // tasks there are), the pause flag and the day's counters.
            try (PreparedStatement ps = c.prepareStatement("SELECT state, SUM(n) FROM " + counts + " WHERE queue = ? "
                    + "GROUP BY state UNION ALL SELECT 'paused', paused FROM " + queues + " WHERE name = ? "
                    + "UNION ALL SELECT 'processed', processed FROM " + stats + " WHERE queue = ? AND day = ? "
                    + "UNION ALL SELECT 'failed', failed FROM " + stats + " WHERE queue = ? AND day = ?")) {
                ps.setString(1, queue);
                ps.setString(2, queue);
                ps.setString(3, queue);
                ps.setString(4, day.toString());
                ps.setString(5, queue);
                ps.setString(6, day.toString());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        byState.put(rs.getString(1), rs.getLong(2));
                    }
                }
            }
            return QueueInfo.builder().name(queue).day(day)
                    .paused(byState.getOrDefault("paused", 0L) == 1)
                    .pending(byState.getOrDefault("pending", 0L))
                    .active(byState.getOrDefault("active", 0L))
                    .scheduled(byState.getOrDefault("scheduled", 0L))
                    .retry(byState.getOrDefault("retry", 0L))
                    .archived(byState.getOrDefault("archived", 0L))
                    .completed(byState.getOrDefault("completed", 0L))
                    .processed(byState.getOrDefault("processed", 0L))
                    .failed(byState.getOrDefault("failed", 0L))
                    .build();
        });
    }

    @Override
    public List<DailyStats> history(String queue, LocalDate from, LocalDate to) {
        return read("read history of queue '" + queue + "'", c -> {
            Map<String, long[]> byDay = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT day, processed, failed FROM " + stats
                    + " WHERE queue = ? AND day >= ? AND day <= ?")) {
                ps.setString(1, queue);
                ps.setString(2, from.toString());
                ps.setString(3, to.toString());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        byDay.put(rs.getString(1), new long[] {rs.getLong(2), rs.getLong(3)});
                    }
                }
            }
            List<DailyStats> result = new ArrayList<>();
            for (LocalDate d = from; !d.isAfter(to); d = d.plusDays(1)) {
                long[] v = byDay.getOrDefault(d.toString(), new long[2]);
                result.add(new DailyStats(queue, d, v[0], v[1]));
            }
            return result;
        });
    }

    @Override
    public void setPaused(String queue, boolean paused) {
        write((paused ? "pause" : "unpause") + " queue '" + queue + "'", c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + queues + " (name, paused) VALUES (?, ?) "
                    + "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused")) {
                ps.setString(1, queue);
                ps.setInt(2, paused ? 1 : 0);
                ps.executeUpdate();
            }
            return null;
        });
    }

    @Override
    public List<TaskInfo> listTasks(String queue, TaskState state, int offset, int limit) {
        String order = (state == TaskState.COMPLETED ? "completed_at, " : "process_at, ") + dialect.insertionOrder();
        // Each state but active has an index in this order (tasks_pending, tasks_completed; tasks_waiting
        // up to process_at, ties sorted incrementally); the planner settings make the page an ordered
        // walk of it that stops after offset + limit entries, whatever the statistics say. Left to
        // statistics never taken (a table filled since the last analyze), the first page of 90,000
        // scheduled tasks was a bitmap scan of all of them plus a sort, 120-240 ms.
        return readGuarded("list " + state.wireName() + " tasks of queue '" + queue + "'", c -> {
            List<TaskInfo> result = new ArrayList<>();
            // The state spelled out (it is one of a closed set), so that PostgreSQL picks its partial index.
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + tasks
                    + " WHERE queue = ? AND state = '" + state.wireName() + "' ORDER BY " + order + " LIMIT ? OFFSET ?")) {
                ps.setString(1, queue);
                ps.setInt(2, limit);
                ps.setInt(3, offset);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        result.add(toInfo(rs));
                    }
                }
            }
            return result;
        });
    }

    @Override
    public Optional<TaskInfo> getTask(String id) {
        return read("read task " + id, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + tasks + " WHERE id = ?")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(toInfo(rs)) : Optional.empty();
                }
            }
        });
    }

    @Override
    public Optional<TaskState> deleteTask(String id) {
        return write("delete task " + id, c -> {
            Optional<String[]> row = lockRow(c, id);
            if (row.isEmpty()) {
                return Optional.empty();
            }
            TaskState state = TaskState.fromWireName(row.get()[0]);
            if (state == TaskState.ACTIVE) {
                return Optional.of(state);
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + tasks + " WHERE id = ?")) {
                ps.setString(1, id);
                ps.executeUpdate();
            }
            if (row.get()[1] != null) {
                releaseUnique(c, row.get()[1], id);
            }
            return Optional.of(state);
        });
    }

    @Override
    public Optional<TaskState> runTask(String id, Instant now) {
        return changeState(id, "run", Set.of(TaskState.SCHEDULED, TaskState.RETRY, TaskState.ARCHIVED),
                TaskState.PENDING, now);
    }

    @Override
    public Optional<TaskState> archiveTask(String id, Instant now) {
        return changeState(id, "archive", Set.of(TaskState.PENDING, TaskState.SCHEDULED, TaskState.RETRY),
                TaskState.ARCHIVED, now);
    }

    private Optional<TaskState> changeState(String id, String what, Set<TaskState> from, TaskState to, Instant now) {
        String[] madeReady = new String[1];   // the queue of a task that became pending
        Optional<TaskState> previous = write(what + " task " + id, c -> {
            Optional<String[]> row = lockRow(c, id);
            if (row.isEmpty()) {
                return Optional.empty();
            }
            TaskState state = TaskState.fromWireName(row.get()[0]);
            if (from.contains(state)) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = ?, process_at = ? WHERE id = ?"
                        + " RETURNING queue")) {
                    ps.setString(1, to.wireName());
                    ps.setLong(2, now.toEpochMilli());
                    ps.setString(3, id);
                    String queue = returnedQueue(ps);
                    madeReady[0] = to == TaskState.PENDING ? queue : null;
                }
            }
            return Optional.of(state);
        });
        if (madeReady[0] != null) {
            arrivals.committed(madeReady[0], ArrivalListeners.readyMessage(1));
        }
        return previous;
    }

    private Optional<String[]> lockRow(Connection c, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT state, unique_key FROM " + tasks + " WHERE id = ?"
                + dialect.forUpdate())) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new String[] {rs.getString(1), rs.getString(2)}) : Optional.empty();
            }
        }
    }

    @Override
    public int runAllArchived(String queue, Instant now) {
        int n = write("run archived tasks of queue '" + queue + "'", c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + tasks + " SET state = 'pending', process_at = ? "
                    + "WHERE queue = ? AND state = 'archived'")) {
                ps.setLong(1, now.toEpochMilli());
                ps.setString(2, queue);
                return ps.executeUpdate();
            }
        });
        if (n > 0) {
            arrivals.committed(queue, ArrivalListeners.readyMessage(n));
        }
        return n;
    }

    @Override
    public int deleteAllArchived(String queue) {
        return write("delete archived tasks of queue '" + queue + "'", c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + uniques + " WHERE task_id IN (SELECT id FROM "
                    + tasks + " WHERE queue = ? AND state = 'archived')")) {
                ps.setString(1, queue);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + tasks + " WHERE queue = ? AND state = 'archived'")) {
                ps.setString(1, queue);
                return ps.executeUpdate();
            }
        });
    }

    @Override
    public List<ServerInfo> servers(Instant now) {
        return read("list servers", c -> {
            List<ServerInfo> result = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT info FROM " + servers + " WHERE expires_at > ? ORDER BY id")) {
                ps.setLong(1, now.toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        result.add(JsonCodec.defaults().decode(rs.getString(1).getBytes(StandardCharsets.UTF_8), ServerInfo.class));
                    }
                }
            }
            return result;
        });
    }

    // ------------------------------------------------------------------ plumbing

    private static TaskInfo toInfo(ResultSet rs) throws SQLException {
        TaskState state = TaskState.fromWireName(rs.getString("state"));
        boolean waiting = state == TaskState.PENDING || state == TaskState.SCHEDULED || state == TaskState.RETRY;
        boolean active = state == TaskState.ACTIVE;
        return TaskInfo.builder()
                .id(rs.getString("id"))
                .queue(rs.getString("queue"))
                .type(rs.getString("type"))
                .payload(rs.getBytes("payload"))
                .state(state)
                .retried(rs.getInt("retried"))
                .maxRetry(rs.getInt("max_retry"))
                .lastError(rs.getString("last_error"))
                .lastFailedAt(instant(rs, "last_failed_at").orElse(null))
                .enqueuedAt(Instant.ofEpochMilli(rs.getLong("enqueued_at")))
                .nextProcessAt(waiting ? instant(rs, "process_at").orElse(null) : null)
                .timeout(nullableLong(rs, "timeout_ms").map(Duration::ofMillis).orElse(null))
                .deadline(instant(rs, "deadline_ms").orElse(null))
                .retention(Duration.ofMillis(rs.getLong("retention_ms")))
                .startedAt(active ? instant(rs, "started_at").orElse(null) : null)
                .completedAt(instant(rs, "completed_at").orElse(null))
                .worker(active ? rs.getString("lease_owner") : null)
                .leaseExpiresAt(active ? instant(rs, "lease_expires_at").orElse(null) : null)
                .result(rs.getBytes("result"))
                .build();
    }

    private static Optional<Long> nullableLong(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(v);
    }

    private static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
        return nullableLong(rs, column).map(Instant::ofEpochMilli);
    }

    private static void setNullableLong(PreparedStatement ps, int index, Long value) throws SQLException {
        if (value == null) {
            ps.setNull(index, java.sql.Types.BIGINT);
        } else {
            ps.setLong(index, value);
        }
    }

    private static String marks(int n) {
        return String.join(", ", java.util.Collections.nCopies(n, "?"));
    }

    @FunctionalInterface
    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs {@code work} in one transaction (immediate on SQLite), committing on success. */
    private <T> T write(String what, Work<T> work) {
        return write(what, work, null);
    }

    /**
     * {@link #write(String, Work)}, then {@code afterCommit} (if not null) on the same connection, out
     * of the committed transaction and before the connection goes back to the pool.
     */
    private <T> T write(String what, Work<T> work, java.util.function.Consumer<Connection> afterCommit) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            T result;
            try {
                result = work.run(c);
                c.commit();
            } catch (SQLException | RuntimeException | Error e) {
                rollbackQuietly(c);
                throw e;
            }
            if (afterCommit != null) {
                afterCommit.accept(c);
            }
            return result;
        } catch (SQLException e) {
            throw failure(what, e);
        }
    }

    /**
     * Runs {@code work} in one transaction like {@link #write}, but on PostgreSQL without waiting for
     * the commit to be flushed to disk ({@code synchronous_commit = off} for this transaction only).
     * Used for claims and completions, the two writes a busy server makes per task: losing the last
     * of them in a database crash (PostgreSQL's WAL writer flushes them within a fraction of a second)
     * has the effect of a worker crash, which at-least-once delivery already covers: an unrecorded
     * claim leaves the task pending, an unrecorded completion leaves it active until its lease
     * expires, and either way it runs again. The write-ahead log keeps commits in order, so a
     * completion never survives without its claim. Every other write, enqueue above all, waits for
     * the flush. SQLite (WAL, {@code synchronous=NORMAL}) does not flush on commit anyway.
     */
    private <T> T writeRelaxed(String what, Work<T> work) {
        return writeRelaxed(what, "", work);
    }

    /**
     * {@link #writeRelaxed(String, Work)} with more PostgreSQL settings for the same transaction only
     * ({@code moreSettings}: further {@code ; SET LOCAL ...} statements, sent in the same request as
     * {@code synchronous_commit}, so they cost no extra round trip and end with the transaction, commit
     * or rollback, never reaching the pooled connection's next user). Ignored on SQLite.
     */
    private <T> T writeRelaxed(String what, String moreSettings, Work<T> work) {
        if (dialect != SqlDialect.POSTGRESQL) {
            return write(what, work);
        }
        return write(what, c -> {
            try (Statement s = c.createStatement()) {
                s.execute("SET LOCAL synchronous_commit TO OFF" + moreSettings);
            }
            return work.run(c);
        });
    }

    /**
     * {@link #write} with the {@link #PLAN_GUARD} on PostgreSQL for the whole transaction (it ends
     * with it, commit or rollback, and never reaches the pooled connection's next user). For the
     * statements every server runs periodically whatever there is to do, which should cost next to
     * nothing when there is next to nothing to do: see {@link #forwardDue} and
     * {@link #recoverExpiredLeases}. One more round trip than {@link #write}, once per call.
     */
    private <T> T writeGuarded(String what, Work<T> work) {
        return write(what, c -> {
            guardPlans(c);
            return work.run(c);
        });
    }

    /** Sends the {@link #PLAN_GUARD} for the rest of {@code c}'s transaction (PostgreSQL; nothing on SQLite). */
    private void guardPlans(Connection c) throws SQLException {
        if (dialect == SqlDialect.POSTGRESQL) {
            try (Statement s = c.createStatement()) {
                s.execute(PLAN_GUARD);
            }
        }
    }

    /**
     * Runs read-only {@code work}: on PostgreSQL in a transaction under the {@link #PLAN_GUARD} (one
     * more round trip), on SQLite as {@link #read} does (a write transaction there would take the
     * write lock).
     */
    private <T> T readGuarded(String what, Work<T> work) {
        return dialect == SqlDialect.POSTGRESQL ? writeGuarded(what, work) : read(what, work);
    }

    /** Runs read-only {@code work} in auto-commit mode (no write lock on SQLite). */
    private <T> T read(String what, Work<T> work) {
        try (Connection c = dataSource.getConnection()) {
            return work.run(c);
        } catch (SQLException e) {
            throw failure(what, e);
        }
    }

    private TaskStoreException failure(String what, Exception e) {
        return new TaskStoreException(name() + " task store: "
                + SqlErrors.explain(target, e, BUSY_TIMEOUT_ADVICE).message(what), e);
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the original failure is what matters; the pool discards a broken connection
        }
    }

    /** Configures a {@link SqlTaskStore} over a caller-owned data source. Not thread-safe. */
    public static final class Builder {
        private final DataSource dataSource;
        private String tablePrefix = DEFAULT_TABLE_PREFIX;

        private Builder(DataSource dataSource) {
            this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        }

        /**
         * The prefix of every table name (default {@value SqlTaskStore#DEFAULT_TABLE_PREFIX}): lower-case
         * letters, digits and underscores, starting with a letter or underscore, at most 40 characters
         * (the rule of every Courier SQL module).
         */
        public Builder tablePrefix(String tablePrefix) {
            this.tablePrefix = checkPrefix(tablePrefix);
            return this;
        }

        static String checkPrefix(String tablePrefix) {
            return TablePrefix.check(tablePrefix);
        }

        /**
         * Connects, detects the dialect and creates or checks the schema.
         *
         * @throws TaskStoreException if the database is unreachable, unsupported or has a newer schema
         */
        public SqlTaskStore build() {
            return new SqlTaskStore(SqlPool.given(dataSource, null), tablePrefix);
        }
    }
}
