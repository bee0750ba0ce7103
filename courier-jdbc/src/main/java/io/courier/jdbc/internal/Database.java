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
        boolean locked = lockForWrite();
        try (Connection c = dataSource.getConnection()) {
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
        } finally {
            if (locked) {
                writeLock.unlock();
            }
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
        boolean locked = lockForWrite();
        try (Connection c = dataSource.getConnection()) {
            return work.apply(c);
        } finally {
            if (locked) {
                writeLock.unlock();
            }
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

    private boolean lockForWrite() throws SQLException {
        if (writeLock == null) {
            return false;
        }
        try {
            return writeLock.tryLock(lockWaitNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted while waiting to write", e);
        }
    }
}
