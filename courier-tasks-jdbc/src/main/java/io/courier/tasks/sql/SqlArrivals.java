package io.courier.tasks.sql;

import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.TaskArrivals;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Collection;
import javax.sql.DataSource;

/**
 * How a {@link SqlTaskStore} announces new tasks ({@link TaskArrivals}), per dialect: PostgreSQL
 * sends a {@code NOTIFY} inside the transaction that makes the change, so that it is delivered to
 * every listening process at commit and never for a rollback ({@link PostgresArrivals}); SQLite has no
 * such channel and signals the servers of every store on the same file in this JVM after the commit
 * ({@link SqliteArrivals}). Every place that makes tasks ready or schedules them calls both
 * {@link #inTransaction} and {@link #committed}; each dialect acts on one of them.
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
     * {@link io.courier.tasks.spi.ArrivalListeners#scheduledMessage}) for {@code queue}, as part of the
     * transaction on {@code c} that makes the change.
     */
    abstract void inTransaction(Connection c, String queue, String message) throws SQLException;

    /** The same announcement, once the transaction committed. */
    abstract void committed(String queue, String message);

    /** See {@link TaskArrivals#subscribeArrivals}. */
    abstract TaskArrivals.Subscription subscribe(Collection<String> queues, ArrivalListener listener);

    /** Stops listening and releases what listening holds; idempotent. */
    @Override
    public abstract void close();
}
