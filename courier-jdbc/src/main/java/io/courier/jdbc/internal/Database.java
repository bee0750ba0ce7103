package io.courier.jdbc.internal;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;

/**
 * Runs Courier's own work on pooled connections. Write transactions go through {@link #inTransaction};
 * on SQLite they also take an in-process lock first, so that this JVM's writers queue on a cheap
 * lock instead of spinning in SQLite's busy handler (other processes still meet the busy timeout).
 * Thread-safe.
 */
public final class Database {

    private final DataSource dataSource;
    private final SqlDialect dialect;
    private final Tables tables;
    private final ReentrantLock writeLock;
    private final long lockWaitNanos;
    private final String target;

    /**
     * @param serializeWrites true for SQLite: take an in-process lock around write transactions
     * @param lockWait        how long to wait for that lock before going ahead anyway (the database
     *                        then arbitrates); the SQLite busy timeout
     * @param target          the database as named in error messages
     */
    public Database(DataSource dataSource, SqlDialect dialect, Tables tables, boolean serializeWrites, Duration lockWait,
                    String target) {
        this.target = target;
        this.dataSource = dataSource;
        this.dialect = dialect;
        this.tables = tables;
        this.writeLock = serializeWrites ? new ReentrantLock() : null;
        this.lockWaitNanos = lockWait.toNanos();
    }

    /** The connection source. */
    public DataSource dataSource() {
        return dataSource;
    }

    /** The database as named in error messages, e.g. {@code SQLite file /data/courier.db}. */
    public String target() {
        return target;
    }

    /** The dialect. */
    public SqlDialect dialect() {
        return dialect;
    }

    /** The table names. */
    public Tables tables() {
        return tables;
    }

    /** Runs {@code work} in one write transaction: committed when it returns, rolled back when it throws. */
    public <T> T inTransaction(SqlFunction<T> work) throws SQLException {
        try (WriteLock lock = lockWrites(); Connection c = dataSource.getConnection()) {
            dialect.begin(c);
            T result;
            try {
                result = work.apply(c);
            } catch (SQLException | RuntimeException | Error e) {
                rollbackQuietly(c, e);
                throw e;
            }
            try {
                dialect.commit(c);
            } catch (SQLException e) {
                rollbackQuietly(c, e);
                throw e;
            }
            return result;
        }
    }

    /**
     * Runs {@code work} on a connection in auto-commit mode, without the in-process write lock: for
     * reads, and for writes that are atomic on their own (one statement, or one request the database
     * runs as one implicit transaction).
     */
    public <T> T autoCommit(SqlFunction<T> work) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return work.apply(c);
        }
    }

    /**
     * Runs {@code work}, a write that is atomic on its own (one statement), on a connection in
     * auto-commit mode, after taking the in-process write lock where writes are serialised (SQLite):
     * it queues behind this process's other writers instead of meeting the database's busy timeout.
     */
    public <T> T atomicWrite(SqlFunction<T> work) throws SQLException {
        try (WriteLock lock = lockWrites(); Connection c = dataSource.getConnection()) {
            return work.apply(c);
        }
    }

    /** Runs {@code work} on a connection in auto-commit mode (reads). */
    public <T> T read(SqlFunction<T> work) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            return work.apply(c);
        }
    }

    /** Rolls back, adding any failure to {@code cause} instead of hiding it. */
    public void rollbackQuietly(Connection c, Throwable cause) {
        try {
            dialect.rollback(c);
        } catch (SQLException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    /**
     * Takes this process's write lock where writes are serialised (SQLite), for a write transaction the
     * caller runs itself: take it before getting the connection and beginning, release it (close) after
     * the commit or rollback. Waits up to the lock wait (the busy timeout), then goes ahead without it
     * and lets the database arbitrate. Does nothing where the database runs writers concurrently.
     *
     * @throws SQLException if interrupted while waiting
     */
    public WriteLock lockWrites() throws SQLException {
        if (writeLock == null) {
            return NOT_LOCKED;
        }
        try {
            return writeLock.tryLock(lockWaitNanos, TimeUnit.NANOSECONDS) ? writeLock::unlock : NOT_LOCKED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while waiting to write", e);
        }
    }

    /** A hold on the in-process write lock, from {@link #lockWrites()}; closing releases it. */
    @FunctionalInterface
    public interface WriteLock extends AutoCloseable {
        /** Releases the lock. */
        @Override
        void close();
    }

    private static final WriteLock NOT_LOCKED = () -> { };
}
