package io.courier.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The reference of the SQL scenarios: a durable queue in plain JDBC over a HikariCP pool, doing the
 * work Courier's SQL transport does with the same SQL shape, minus Courier's machinery.
 *
 * <ul>
 *   <li>Tables as Courier's: {@code messages} (row id, topic, message id, payload, timestamps) and
 *       {@code deliveries} (group, message row, visible_at, attempts, lease owner; primary key
 *       (group, message row), index (group, visible_at, message row)). One consumer group with a
 *       fixed id, so there is no groups table to join.</li>
 *   <li>Publish: one transaction per call: a multi-row {@code INSERT ... RETURNING id} into
 *       messages (50 rows per statement on SQLite, 500 on PostgreSQL, as Courier), one
 *       {@code INSERT ... SELECT} of a delivery row per message, and on PostgreSQL
 *       {@code pg_notify} in the same transaction. No group commit across calls.</li>
 *   <li>Consume: {@value JdbcScenarios#CONCURRENCY} threads, each looping: claim up to
 *       {@value JdbcScenarios#CLAIM_BATCH} visible deliveries with a 30 s lease (PostgreSQL:
 *       {@code UPDATE ... WHERE message_row = ANY(ARRAY(SELECT ... LIMIT n FOR UPDATE SKIP LOCKED))
 *       RETURNING} joined to the payload, one statement, written as an array as Courier does,
 *       because {@code IN (SELECT ...)} makes the planner scan the whole table, and preceded by
 *       Courier's transaction-local planner guard (no bitmap scans, sequential scans or sorts), without
 *       which a table never analyzed gets a claim that reads the whole backlog; SQLite:
 *       {@code UPDATE ... RETURNING} then a {@code SELECT} of the payloads, in one
 *       {@code BEGIN IMMEDIATE} transaction), run the
 *       callback on each, then delete the claimed deliveries in one transaction (fenced by lease
 *       owner and attempts, as Courier's acknowledgement).</li>
 *   <li>Wake-ups: an in-process signal after each publish commit, plus on PostgreSQL one LISTEN
 *       connection; an idle consumer otherwise waits the poll interval (100 ms SQLite, 1 s
 *       PostgreSQL), as Courier.</li>
 *   <li>SQLite: WAL, {@code synchronous=NORMAL}, 5 s busy timeout, and an in-process lock around
 *       write transactions so this process's writers queue on it instead of in SQLite's sleeping
 *       busy handler, as Courier.</li>
 * </ul>
 */
final class RawSqlQueue implements Pipeline {

    private static final long GROUP_ID = 1;
    private static final String TOPIC = "bench";
    private static final long LEASE_MILLIS = 30_000;
    private static final int POOL_SIZE = 10;

    private final boolean sqlite;
    private final HikariDataSource pool;
    private final ReentrantLock writeLock;
    private final String channel;
    private final long pollMillis;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Object wakeup = new Object();
    private long publishes;
    private volatile boolean running = true;

    private RawSqlQueue(boolean sqlite, HikariDataSource pool, String channel) throws SQLException {
        this.sqlite = sqlite;
        this.pool = pool;
        this.writeLock = sqlite ? new ReentrantLock() : null;
        this.channel = channel;
        this.pollMillis = sqlite ? 100 : 1_000;
        createTables();
    }

    /** A queue in a new SQLite file. */
    static RawSqlQueue sqlite(Path file) throws SQLException {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
        config.setBusyTimeout(5_000);
        SQLiteDataSource ds = new SQLiteDataSource(config);
        ds.setUrl("jdbc:sqlite:" + file.toAbsolutePath());
        return new RawSqlQueue(true, pool("raw-sqlite", hc -> hc.setDataSource(ds)), null);
    }

    /** A queue in the (empty) schema that {@code url}'s connections use; NOTIFY on {@code channel}. */
    static RawSqlQueue postgres(String url, String user, String channel) throws SQLException {
        return new RawSqlQueue(false, pool("raw-postgresql", hc -> {
            hc.setJdbcUrl(url);
            hc.setUsername(user);
            hc.setPassword("");
        }), channel);
    }

    private static HikariDataSource pool(String name, Consumer<HikariConfig> target) {
        HikariConfig hc = new HikariConfig();
        hc.setPoolName(name);
        hc.setMaximumPoolSize(POOL_SIZE);
        target.accept(hc);
        return new HikariDataSource(hc);
    }

    private void createTables() throws SQLException {
        String blob = sqlite ? "BLOB" : "BYTEA";
        String rowId = sqlite ? "INTEGER PRIMARY KEY" : "BIGSERIAL PRIMARY KEY";
        String withoutRowId = sqlite ? " WITHOUT ROWID" : "";
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE messages (id " + rowId + ", topic TEXT NOT NULL, message_id TEXT NOT NULL,"
                    + " payload " + blob + " NOT NULL, timestamp_ns BIGINT NOT NULL, created_at BIGINT NOT NULL,"
                    + " deliver_at BIGINT NOT NULL)");
            s.execute("CREATE TABLE deliveries (group_id BIGINT NOT NULL, message_row BIGINT NOT NULL,"
                    + " visible_at BIGINT NOT NULL, attempts INTEGER NOT NULL, lease_owner BIGINT,"
                    + " PRIMARY KEY (group_id, message_row))" + withoutRowId);
            s.execute("CREATE INDEX deliveries_visible ON deliveries (group_id, visible_at, message_row)");
        }
    }

    // ---------------------------------------------------------------- publish

    @Override
    public void publish(List<byte[]> batch) throws SQLException {
        long now = System.currentTimeMillis();
        inTransaction(c -> {
            long[] ids = insertMessages(c, batch, now);
            insertDeliveries(c, ids, now);
            return null;
        });
        synchronized (wakeup) {
            publishes++;
            wakeup.notifyAll();
        }
    }

    private long[] insertMessages(Connection c, List<byte[]> batch, long now) throws SQLException {
        int chunk = sqlite ? 50 : 500;
        long nowNanos = TimeUnit.MILLISECONDS.toNanos(now);
        long[] ids = new long[batch.size()];
        int n = 0;
        for (int from = 0; from < batch.size(); from += chunk) {
            int rows = Math.min(chunk, batch.size() - from);
            StringBuilder sql = new StringBuilder("INSERT INTO messages (topic, message_id, payload, timestamp_ns,"
                    + " created_at, deliver_at) VALUES ");
            for (int i = 0; i < rows; i++) {
                sql.append(i == 0 ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)");
            }
            sql.append(" RETURNING id");
            try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                int p = 1;
                for (int i = from; i < from + rows; i++) {
                    ps.setString(p++, TOPIC);
                    ps.setString(p++, UUID.randomUUID().toString());
                    ps.setBytes(p++, batch.get(i));
                    ps.setLong(p++, nowNanos);
                    ps.setLong(p++, now);
                    ps.setLong(p++, now);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        ids[n++] = rs.getLong(1);
                    }
                }
            }
        }
        return ids;
    }

    private void insertDeliveries(Connection c, long[] ids, long now) throws SQLException {
        if (sqlite) {
            // The write lock is held, so the ids are one contiguous range.
            long first = Long.MAX_VALUE;
            long last = Long.MIN_VALUE;
            for (long id : ids) {
                first = Math.min(first, id);
                last = Math.max(last, id);
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO deliveries (group_id, message_row, visible_at,"
                    + " attempts) SELECT ?, id, deliver_at, 0 FROM messages WHERE id BETWEEN ? AND ?")) {
                ps.setLong(1, GROUP_ID);
                ps.setLong(2, first);
                ps.setLong(3, last);
                ps.executeUpdate();
            }
            return;
        }
        Long[] boxed = new Long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            boxed[i] = ids[i];
        }
        Array array = c.createArrayOf("bigint", boxed);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO deliveries (group_id, message_row, visible_at, attempts)"
                + " SELECT ?, x, ?, 0 FROM unnest(?::bigint[]) AS x; SELECT pg_notify(?, ?)")) {
            ps.setLong(1, GROUP_ID);
            ps.setLong(2, now);
            ps.setArray(3, array);
            ps.setString(4, channel);
            ps.setString(5, TOPIC);
            ps.execute();
            while (ps.getMoreResults() || ps.getUpdateCount() != -1) {
                // drain every result so that a failing statement throws here
            }
        } finally {
            array.free();
        }
    }

    // ---------------------------------------------------------------- consume

    private record Claimed(long row, int attempts, byte[] payload) {
    }

    @Override
    public void start(Consumer<byte[]> onMessage) {
        for (int i = 0; i < JdbcScenarios.CONCURRENCY; i++) {
            Thread t = new Thread(() -> consume(onMessage), "raw-sql-consumer-" + (i + 1));
            t.setDaemon(true);
            threads.add(t);
        }
        if (!sqlite) {
            Thread t = new Thread(this::listen, "raw-sql-listener");
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    private void consume(Consumer<byte[]> onMessage) {
        long owner = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        try {
            while (running) {
                long seen;
                synchronized (wakeup) {
                    seen = publishes;
                }
                List<Claimed> claimed = claim(owner);
                if (claimed.isEmpty()) {
                    awaitPublish(seen);
                    continue;
                }
                for (Claimed m : claimed) {
                    onMessage.accept(m.payload());
                }
                acknowledge(owner, claimed);
            }
        } catch (InterruptedException e) {
            // closing
        } catch (Throwable e) {
            if (running) {
                fail(e);
            }
        }
    }

    private List<Claimed> claim(long owner) throws SQLException {
        long now = System.currentTimeMillis();
        if (!sqlite) {
            try (Connection c = pool.getConnection();
                 // The planner guard Courier sends too: without it a never-analyzed table's claim can be
                 // planned as a bitmap scan of the whole backlog plus a sort.
                 PreparedStatement ps = c.prepareStatement("SELECT set_config('enable_bitmapscan', 'off', true),"
                         + " set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true),"
                         + " set_config('jit', 'off', true);"
                         + " UPDATE deliveries d SET visible_at = ?, lease_owner = ?,"
                         + " attempts = d.attempts + 1 FROM messages m"
                         + " WHERE d.group_id = ? AND d.message_row = ANY(ARRAY(SELECT message_row FROM deliveries"
                         + " WHERE group_id = ? AND visible_at <= ? ORDER BY visible_at, message_row LIMIT ?"
                         + " FOR UPDATE SKIP LOCKED)) AND m.id = d.message_row"
                         + " RETURNING d.message_row, d.attempts, m.payload")) {
                ps.setLong(1, now + LEASE_MILLIS);
                ps.setLong(2, owner);
                ps.setLong(3, GROUP_ID);
                ps.setLong(4, GROUP_ID);
                ps.setLong(5, now);
                ps.setInt(6, JdbcScenarios.CLAIM_BATCH);
                List<Claimed> claimed = new ArrayList<>();
                ps.execute();   // the guard's row first
                ps.getMoreResults();
                try (ResultSet rs = ps.getResultSet()) {
                    while (rs.next()) {
                        claimed.add(new Claimed(rs.getLong(1), rs.getInt(2), rs.getBytes(3)));
                    }
                }
                return claimed;
            }
        }
        return inTransaction(c -> {
            Map<Long, Integer> attempts = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement("UPDATE deliveries SET visible_at = ?, lease_owner = ?,"
                    + " attempts = attempts + 1 WHERE group_id = ? AND message_row IN (SELECT message_row FROM deliveries"
                    + " WHERE group_id = ? AND visible_at <= ? ORDER BY visible_at, message_row LIMIT ?)"
                    + " RETURNING message_row, attempts")) {
                ps.setLong(1, now + LEASE_MILLIS);
                ps.setLong(2, owner);
                ps.setLong(3, GROUP_ID);
                ps.setLong(4, GROUP_ID);
                ps.setLong(5, now);
                ps.setInt(6, JdbcScenarios.CLAIM_BATCH);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        attempts.put(rs.getLong(1), rs.getInt(2));
                    }
                }
            }
            if (attempts.isEmpty()) {
                return List.of();
            }
            StringBuilder sql = new StringBuilder("SELECT id, payload FROM messages WHERE id IN (");
            for (int i = 0; i < attempts.size(); i++) {
                sql.append(i == 0 ? "?" : ", ?");
            }
            sql.append(") ORDER BY id");
            List<Claimed> claimed = new ArrayList<>(attempts.size());
            try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                int p = 1;
                for (long row : attempts.keySet()) {
                    ps.setLong(p++, row);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long row = rs.getLong(1);
                        claimed.add(new Claimed(row, attempts.get(row), rs.getBytes(2)));
                    }
                }
            }
            return claimed;
        });
    }

    private void acknowledge(long owner, List<Claimed> claimed) throws SQLException {
        inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM deliveries"
                    + " WHERE group_id = ? AND message_row = ? AND lease_owner = ? AND attempts = ?")) {
                for (Claimed m : claimed) {
                    ps.setLong(1, GROUP_ID);
                    ps.setLong(2, m.row());
                    ps.setLong(3, owner);
                    ps.setInt(4, m.attempts());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return null;
        });
    }

    private void awaitPublish(long seen) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pollMillis);
        synchronized (wakeup) {
            long left;
            while (running && publishes == seen && (left = deadline - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.timedWait(wakeup, left);
            }
        }
    }

    private void listen() {
        try (Connection c = pool.getConnection()) {
            try (Statement s = c.createStatement()) {
                s.execute("LISTEN " + channel);
            }
            PGConnection pg = c.unwrap(PGConnection.class);
            while (running) {
                PGNotification[] notifications = pg.getNotifications(500);
                if (notifications != null && notifications.length > 0) {
                    synchronized (wakeup) {
                        publishes++;
                        wakeup.notifyAll();
                    }
                }
            }
        } catch (Throwable e) {
            if (running) {
                fail(e);
            }
        }
    }

    private void fail(Throwable e) {
        if (failure.compareAndSet(null, e)) {
            System.err.println("raw SQL queue failed: " + e);
            e.printStackTrace();
        }
    }

    // ---------------------------------------------------------------- transactions

    private interface SqlWork<T> {
        T apply(Connection c) throws SQLException;
    }

    /** One write transaction; on SQLite {@code BEGIN IMMEDIATE} under the in-process write lock. */
    private <T> T inTransaction(SqlWork<T> work) throws SQLException {
        if (writeLock != null) {
            writeLock.lock();
        }
        try (Connection c = pool.getConnection()) {
            if (sqlite) {
                try (Statement s = c.createStatement()) {
                    s.execute("BEGIN IMMEDIATE");
                }
            } else {
                c.setAutoCommit(false);
            }
            try {
                T result = work.apply(c);
                if (sqlite) {
                    try (Statement s = c.createStatement()) {
                        s.execute("COMMIT");
                    }
                } else {
                    c.commit();
                }
                return result;
            } catch (SQLException | RuntimeException e) {
                rollback(c, e);
                throw e;
            } finally {
                if (!sqlite) {
                    c.setAutoCommit(true);
                }
            }
        } finally {
            if (writeLock != null) {
                writeLock.unlock();
            }
        }
    }

    private void rollback(Connection c, Exception cause) {
        try {
            if (sqlite) {
                try (Statement s = c.createStatement()) {
                    s.execute("ROLLBACK");
                }
            } else {
                c.rollback();
            }
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    @Override
    public void close() throws Exception {
        running = false;
        synchronized (wakeup) {
            wakeup.notifyAll();
        }
        for (Thread t : threads) {
            t.join(10_000);
        }
        pool.close();
        Throwable e = failure.get();
        if (e != null) {
            throw new IllegalStateException("the raw SQL queue failed: " + e, e);
        }
    }
}
