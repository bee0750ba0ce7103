package io.courier.tasks.sql;

import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.TaskArrivals;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
import javax.sql.DataSource;

/**
 * How a {@link SqlTaskStore} announces new tasks ({@link TaskArrivals}), per dialect: PostgreSQL
 * sends a {@code NOTIFY} that every listening process receives ({@link PostgresArrivals}); SQLite has
 * no such channel and signals the servers of every store on the same file in this JVM
 * ({@link SqliteArrivals}). The store announces after its own transaction committed
 * ({@link #committed}), so a server that claims at once finds the task; a task enqueued in the
 * caller's transaction is announced inside it ({@link #inCallerTransaction}), since only the caller
 * knows when it commits.
 *
 * <p>Thread-safe.
 */
abstract class SqlArrivals implements AutoCloseable {

    /** The announcements of {@code dialect}, for the tables with {@code prefix} that {@code dataSource} reaches. */
    static SqlArrivals create(SqlDialect dialect, DataSource dataSource, String prefix) {
        return dialect == SqlDialect.POSTGRESQL ? new PostgresArrivals(dataSource, prefix) : new SqliteArrivals(dataSource, prefix);
    }

    /**
     * Announces {@code message} ({@link io.courier.tasks.spi.ArrivalListeners#readyMessage} or
     * {@link io.courier.tasks.spi.ArrivalListeners#scheduledMessage}) for {@code queue}, after the
     * store's transaction that made the change committed. Never throws: the change is committed, and
     * a lost announcement only delays the task until a server polls.
     */
    abstract void committed(String queue, String message);

    /**
     * {@link #committed(String, String)} with {@code c}, a connection whose transaction just
     * committed, which may be used for the announcement (and left in auto-commit mode).
     */
    abstract void committed(Connection c, String queue, String message);

    /** The same announcement, for a change made in the caller's transaction on {@code c}, not committed yet. */
    abstract void inCallerTransaction(Connection c, String queue, String message) throws SQLException;

    /** See {@link TaskArrivals#subscribeArrivals}. */
    abstract TaskArrivals.Subscription subscribe(Collection<String> queues, ArrivalListener listener);

    /** Stops listening and releases what listening holds; idempotent. */
    @Override
    public abstract void close();
}
