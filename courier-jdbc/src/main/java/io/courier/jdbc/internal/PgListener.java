package io.courier.jdbc.internal;

import io.courier.spi.engine.Signal;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds one connection that LISTENs on the transport's channel and wakes the local subscriptions of
 * each notified topic. Reconnects with backoff when the connection breaks, and wakes every
 * subscription after reconnecting, since notifications sent meanwhile are lost (the consumers'
 * poll interval covers that gap too).
 */
public final class PgListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PgListener.class);

    private final Database db;
    private final Wakeups wakeups;
    private final Thread thread;
    private final Signal stop = new Signal();
    private volatile boolean closed;

    /** Starts listening. */
    public PgListener(Database db, Wakeups wakeups) {
        this.db = db;
        this.wakeups = wakeups;
        this.thread = new Thread(this::run, "courier-postgresql-listener");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        long backoff = 100;
        boolean failing = false;
        while (!closed) {
            try (Connection c = db.dataSource().getConnection()) {
                PGConnection pg = c.unwrap(PGConnection.class);
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + db.tables().channel());
                }
                if (failing) {
                    log.info("listening for new messages again");
                    failing = false;
                }
                backoff = 100;
                wakeups.signalAll();
                try {
                    while (!closed) {
                        PGNotification[] notifications = pg.getNotifications(500);
                        if (notifications != null) {
                            for (PGNotification n : notifications) {
                                wakeups.signal(n.getParameter());
                            }
                        }
                    }
                } finally {
                    try (Statement s = c.createStatement()) {
                        s.execute("UNLISTEN *");
                    } catch (SQLException ignored) {
                        // the connection is broken or closing; the pool will discard it
                    }
                }
            } catch (SQLException | RuntimeException e) {
                if (closed) {
                    return;
                }
                if (!failing) {
                    log.warn("LISTEN connection failed ({}); consumers fall back to polling until it is back", e.toString());
                    failing = true;
                }
                try {
                    stop.awaitMillis(backoff);
                } catch (InterruptedException ie) {
                    return;
                }
                backoff = Math.min(5_000, backoff * 2);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        stop.signal();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
