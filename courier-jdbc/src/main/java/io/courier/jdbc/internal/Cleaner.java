package io.courier.jdbc.internal;

import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes messages that every group has handled once they are older than the retention,
 * idempotency claims older than theirs, and expired keys of the idempotency store. Runs in short transactions of at most {@value #CHUNK} rows
 * so that publishers and consumers are never held up for long; on PostgreSQL one process at a time.
 */
public final class Cleaner implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Cleaner.class);
    static final int CHUNK = 500;
    private static final int MAX_CHUNKS_PER_ROUND = 200;

    private final Database db;
    private final MessageStore store;
    private final IdempotencyKeys idempotencyKeys;
    private final Clock clock;
    private final Duration retention;
    private final Duration processedRetention;
    private final ScheduledExecutorService scheduler;

    /** Runs a cleanup every {@code interval}. */
    public Cleaner(Database db, MessageStore store, IdempotencyKeys idempotencyKeys, Clock clock, Duration retention,
                   Duration processedRetention, Duration interval) {
        this.db = db;
        this.store = store;
        this.idempotencyKeys = idempotencyKeys;
        this.clock = clock;
        this.retention = retention;
        this.processedRetention = processedRetention;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "courier-" + db.dialect().name() + "-cleaner");
            t.setDaemon(true);
            return t;
        });
        long ms = interval.toMillis();
        scheduler.scheduleWithFixedDelay(this::runQuietly, ms, ms, TimeUnit.MILLISECONDS);
    }

    private void runQuietly() {
        try {
            int deleted = runOnce();
            if (deleted > 0) {
                log.debug("cleanup deleted {} handled messages", deleted);
            }
        } catch (SQLException | RuntimeException e) {
            log.warn("cleanup failed, will try again: {}", e.toString());
        }
    }

    /** One cleanup round; returns the number of messages deleted. */
    public int runOnce() throws SQLException {
        long now = clock.millis();
        long cutoff = now - retention.toMillis();
        long maxRow = db.read(c -> store.lastRowCreatedBefore(c, cutoff));
        int total = 0;
        if (maxRow >= 0) {
            for (int i = 0; i < MAX_CHUNKS_PER_ROUND; i++) {
                Integer n = db.inTransaction(c -> db.dialect().tryLockCleanup(c, db.tables())
                        ? store.deleteHandledMessages(c, maxRow, CHUNK) : -1);
                if (n < 0) {
                    return total;   // another process is cleaning
                }
                total += n;
                if (n < CHUNK) {
                    break;
                }
            }
        }
        db.inTransaction(c -> store.deleteProcessedBefore(c, now - processedRetention.toMillis()));
        purgeExpiredKeys(idempotencyKeys, db);
        return total;
    }

    /** Deletes every expired key of the idempotency store, in statements of at most {@value #CHUNK} rows; returns how many. */
    public static int purgeExpiredKeys(IdempotencyKeys keys, Database db) throws SQLException {
        int total = 0;
        for (int i = 0; i < MAX_CHUNKS_PER_ROUND; i++) {
            int n = db.atomicWrite(c -> keys.purgeExpired(c, CHUNK));
            total += n;
            if (n < CHUNK) {
                break;
            }
        }
        return total;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
        try {
            scheduler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
