package io.courier.tasks.sql;

import io.courier.spi.ConsumerThreads;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.ArrivalListeners;
import io.courier.tasks.spi.TaskArrivals;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PostgreSQL's announcements: {@code pg_notify(channel, '<message> <queue>')}, delivered by
 * PostgreSQL at commit to every connection that {@code LISTEN}s on the channel, in any process.
 *
 * <p>The store's own changes are announced in a transaction of their own, right after the change
 * committed, with {@code synchronous_commit} off. Not in the change's transaction: PostgreSQL
 * serializes the commits of all transactions that notify, holding a database-wide lock until the
 * commit is flushed, so an enqueue that notified waited for every other enqueue's disk flush and
 * 8 threads could no longer keep up with 500 enqueues per second on a busy machine (6 s behind
 * after 10 s). The announcing transaction writes nothing and need not wait for the disk, so it holds
 * that lock only briefly. A task enqueued in the caller's transaction is announced inside that
 * transaction, at its commit, and its commit queues behind the others'.
 *
 * <p>The channel is named after the schema and table prefix
 * ({@code <schema>.<prefix>tasks}, or a hash of it when that is longer than PostgreSQL's 63-byte
 * identifiers), so stores on other tables of the same database do not wake each other.
 *
 * <p>The first subscription starts a thread that holds one connection of the store's pool and
 * {@code LISTEN}s on it until the store is closed; it waits for the {@code LISTEN} to be in place (at
 * most {@value #FIRST_LISTEN_WAIT_SECONDS} s). When the connection breaks, the thread reconnects with
 * backoff (0.1 s doubling to 5 s) and tells the subscribers that announcements may have been missed.
 */
final class PostgresArrivals extends SqlArrivals {

    private static final Logger log = LoggerFactory.getLogger(PostgresArrivals.class);
    private static final int MAX_IDENTIFIER_BYTES = 63;
    /** How long a blocking read for notifications lasts before the thread looks whether it should stop. */
    private static final int READ_MILLIS = 250;
    static final int FIRST_LISTEN_WAIT_SECONDS = 5;

    private final DataSource dataSource;
    private final String channel;
    private final ArrivalListeners listeners = new ArrivalListeners();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private Thread thread;
    private boolean listening;
    private boolean closed;

    PostgresArrivals(DataSource dataSource, String prefix) {
        this.dataSource = dataSource;
        this.channel = channel(dataSource, prefix);
    }

    /** The channel of this store's tables. */
    String channel() {
        return channel;
    }

    @Override
    void committed(String queue, String message) {
        try (Connection c = dataSource.getConnection()) {
            committed(c, queue, message);
        } catch (SQLException e) {
            couldNotAnnounce(queue, e);
        }
    }

    @Override
    void committed(Connection c, String queue, String message) {
        try {
            if (!c.getAutoCommit()) {
                c.setAutoCommit(true);
            }
            // One statement, so one implicit transaction: set_config(..., true) holds for its commit.
            notify(c, "SELECT set_config('synchronous_commit', 'off', true), pg_notify(?, ?)", queue, message);
        } catch (SQLException | RuntimeException e) {
            couldNotAnnounce(queue, e);
        }
    }

    private void couldNotAnnounce(String queue, Exception e) {
        log.warn("could not announce new tasks of queue '{}' on channel '{}' ({}); servers find them at their next poll",
                queue, channel, e.toString());
    }

    @Override
    void inCallerTransaction(Connection c, String queue, String message) throws SQLException {
        notify(c, "SELECT pg_notify(?, ?)", queue, message);
    }

    private void notify(Connection c, String sql, String queue, String message) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, channel);
            ps.setString(2, message + " " + queue);
            ps.execute();
        }
    }

    @Override
    TaskArrivals.Subscription subscribe(Collection<String> queues, ArrivalListener listener) {
        TaskArrivals.Subscription subscription = listeners.add(queues, listener);
        lock.lock();
        try {
            if (closed) {
                subscription.close();
                throw new TaskStoreException("postgresql task store is closed: cannot listen for new tasks");
            }
            if (thread == null) {
                thread = ConsumerThreads.factory("courier-tasks-postgresql-listener", false).newThread(this::listen);
                thread.start();
            }
            long left = TimeUnit.SECONDS.toNanos(FIRST_LISTEN_WAIT_SECONDS);
            while (!listening && !closed && left > 0) {
                left = changed.awaitNanos(left);
            }
            if (!listening) {
                log.warn("not listening for new tasks on channel '{}' yet; servers poll until it is", channel);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
        return subscription;
    }

    @Override
    public void close() {
        Thread t;
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
            t = thread;
        } finally {
            lock.unlock();
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The listener thread: LISTEN, hand each notification to the subscribers, reconnect when broken. */
    private void listen() {
        long backoffMillis = 100;
        boolean failing = false;
        while (!isClosed()) {
            try (Connection c = dataSource.getConnection()) {
                PGConnection pg = c.unwrap(PGConnection.class);
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + quoted(channel));
                }
                setListening(true);
                if (failing) {
                    log.info("listening for new tasks on channel '{}' again", channel);
                    failing = false;
                }
                backoffMillis = 100;
                listeners.missed();   // whatever was announced before the LISTEN took effect
                try {
                    while (!isClosed()) {
                        PGNotification[] notifications = pg.getNotifications(READ_MILLIS);
                        for (PGNotification n : notifications == null ? new PGNotification[0] : notifications) {
                            deliver(n.getParameter());
                        }
                    }
                } finally {
                    setListening(false);
                    unlisten(c);
                }
            } catch (SQLException | RuntimeException e) {
                if (isClosed()) {
                    return;
                }
                if (!failing) {
                    log.warn("listening for new tasks on channel '{}' failed ({}); servers poll until it is back",
                            channel, e.toString());
                    failing = true;
                }
                pause(backoffMillis);
                backoffMillis = Math.min(5_000, backoffMillis * 2);
            }
        }
    }

    private void deliver(String payload) {
        int space = payload.indexOf(' ');
        if (space < 0) {
            listeners.missed();
        } else {
            listeners.deliver(payload.substring(space + 1), payload.substring(0, space));
        }
    }

    /** Stops listening before the connection goes back to the pool, where nobody would read its notifications. */
    private void unlisten(Connection c) {
        try (Statement s = c.createStatement()) {
            s.execute("UNLISTEN " + quoted(channel));
        } catch (SQLException e) {
            log.debug("UNLISTEN failed; the pool discards the broken connection", e);
        }
    }

    private boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    private void setListening(boolean value) {
        lock.lock();
        try {
            listening = value;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void pause(long millis) {
        lock.lock();
        try {
            if (!closed) {
                changed.await(millis, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** {@code <current schema>.<prefix>tasks}, or {@code <prefix>tasks_<hash>} when that is too long. */
    private static String channel(DataSource dataSource, String prefix) {
        String schema;
        try (Connection c = dataSource.getConnection();
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_schema()")) {
            schema = rs.next() ? rs.getString(1) : null;
        } catch (SQLException e) {
            throw new TaskStoreException("postgresql task store: cannot read the current schema: " + e.getMessage(), e);
        }
        String name = (schema == null ? "" : schema) + "." + prefix + "tasks";
        if (name.getBytes(StandardCharsets.UTF_8).length <= MAX_IDENTIFIER_BYTES) {
            return name;
        }
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
            return prefix + "tasks_" + HexFormat.of().formatHex(hash, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static String quoted(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }
}
