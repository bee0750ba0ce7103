package io.courier.jdbc;

import io.courier.IdempotencyStore;
import io.courier.TransportClosedException;
import io.courier.jdbc.internal.Cleaner;
import io.courier.jdbc.internal.Database;
import io.courier.jdbc.internal.IdempotencyKeys;
import io.courier.jdbc.internal.SqlErrors;
import io.courier.jdbc.internal.SqlFunction;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link IdempotencyStore} in an SQL database (SQLite or PostgreSQL), shared by every process that
 * uses the database and table prefix: the store for
 * {@link io.courier.middleware.IdempotencyMiddleware} when handlers run in several processes, or must
 * remember what they processed across restarts, whatever transport delivers the messages.
 *
 * <pre>{@code
 * // with the SQL transport: its database, pool and cleanup
 * JdbcTransport transport = JdbcTransport.postgres("jdbc:postgresql://db:5432/app", "app", secret).build();
 * IdempotencyStore store = JdbcIdempotencyStore.of(transport);
 * // or on its own, with any transport (close it when done):
 * // JdbcIdempotencyStore store = JdbcIdempotencyStore.open(JdbcTransport.postgres(url, "app", secret));
 *
 * router.use(IdempotencyMiddleware.builder(store)
 *     .lease(Duration.ofMinutes(1))
 *     .retention(Duration.ofDays(1))
 *     .build());
 * }</pre>
 *
 * <p><b>How.</b> One row per key in the table {@code <prefix>idempotency_keys}, created by the
 * transport's schema migration. Each operation is one atomic statement: a claim is an
 * {@code INSERT ... ON CONFLICT DO UPDATE} that takes a new or expired key and leaves a live one alone,
 * so of any number of concurrent claimers, in any number of processes, exactly one acquires a key;
 * {@code complete} and {@code release} change the row only while it carries the caller's token. Leases
 * and retention are measured by the database's clock, so clock skew between consumers does not matter.
 * On SQLite the statements queue on the in-process write lock behind the transport's other writes.
 * Expired rows count as absent at once and are deleted every
 * {@link JdbcTransport.Builder#cleanupInterval cleanup interval} (by the transport's cleanup, or the
 * standalone store's own) or by {@link #purgeExpired()}.
 *
 * <p>For handlers whose effects are writes to the same database, {@link JdbcIdempotentHandler} is
 * stronger: its claim commits in the handler's own transaction (exactly-once effects), where this store
 * gives at-most-once handler runs. Thread-safe; valid while its transport is open, or until closed.
 */
public final class JdbcIdempotencyStore implements IdempotencyStore, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(JdbcIdempotencyStore.class);

    private final Database db;
    private final IdempotencyKeys keys;
    private final String description;
    private final Runnable checkOpen;
    private final Runnable closeAction;
    private final AtomicBoolean closed = new AtomicBoolean();

    private JdbcIdempotencyStore(Database db, IdempotencyKeys keys, String description, Runnable checkOpen,
                                 Runnable closeAction) {
        this.db = db;
        this.keys = keys;
        this.description = description;
        this.checkOpen = checkOpen;
        this.closeAction = closeAction;
    }

    /**
     * A store in the database and under the table prefix of {@code transport}; it uses the transport's
     * connection pool, its expired keys go in the transport's cleanup rounds, and it is valid until the
     * transport is closed ({@link #close()} does nothing). Cheap: stores of one transport share everything.
     */
    public static JdbcIdempotencyStore of(JdbcTransport transport) {
        Objects.requireNonNull(transport, "transport");
        return new JdbcIdempotencyStore(transport.database(), transport.idempotencyKeys(),
                "JdbcIdempotencyStore{" + transport + "}",
                transport::checkOpen, () -> { });
    }

    /**
     * A standalone store, for applications that use no SQL transport: it opens the database that
     * {@code database} describes ({@link JdbcTransport#sqlite}, {@link JdbcTransport#postgres}, with its
     * table prefix, pool size, connect and busy timeouts), creates or upgrades Courier's schema there,
     * and deletes expired keys every {@link JdbcTransport.Builder#cleanupInterval cleanup interval}; it
     * starts no publisher, consumer or listener. Close it when done: that stops the cleanup and closes
     * the pool it created.
     *
     * <pre>{@code
     * try (JdbcIdempotencyStore store = JdbcIdempotencyStore.open(
     *         JdbcTransport.postgres("jdbc:postgresql://db:5432/app", "app", secret).tablePrefix("orders_"))) {
     *     router.use(new IdempotencyMiddleware(store));
     *     ...
     * }
     * }</pre>
     *
     * @throws JdbcTransportException if the database cannot be reached or its schema not created
     */
    public static JdbcIdempotencyStore open(JdbcTransport.Builder database) {
        Objects.requireNonNull(database, "database");
        JdbcTransport.Builder.Opened opened = database.open("opening the idempotency store");
        Database db = opened.db();
        IdempotencyKeys keys = new IdempotencyKeys(db.dialect(), db.tables());
        String description = "JdbcIdempotencyStore{" + db.target() + ", tables=" + db.tables().prefix() + "*}";
        ScheduledExecutorService cleaner = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "courier-" + db.dialect().name() + "-idempotency-cleaner");
            t.setDaemon(true);
            return t;
        });
        AtomicBoolean closed = new AtomicBoolean();
        JdbcIdempotencyStore store = new JdbcIdempotencyStore(db, keys, description, () -> {
            if (closed.get()) {
                throw new TransportClosedException("the idempotency store on " + db.target() + " is closed");
            }
        }, () -> {
            closed.set(true);
            cleaner.shutdownNow();
            opened.closePool();
        });
        long every = database.cleanupInterval().toMillis();
        cleaner.scheduleWithFixedDelay(store::purgeQuietly, every, every, TimeUnit.MILLISECONDS);
        return store;
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code key} is blank or {@code lease} not positive
     * @throws JdbcTransportException    when the database fails
     * @throws io.courier.TransportClosedException if the transport is closed
     */
    @Override
    public Claim tryClaim(String key, Duration lease) {
        IdempotencyStore.requireValidKey(key);
        IdempotencyStore.requirePositive(lease, "lease");
        String token = UUID.randomUUID().toString();
        return write("claiming idempotency key '" + key + "'", c -> keys.claim(c, key, token, lease));
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code key} is blank or {@code retention} not positive
     * @throws JdbcTransportException    when the database fails
     */
    @Override
    public boolean complete(String key, String token, Duration retention) {
        IdempotencyStore.requireValidKey(key);
        Objects.requireNonNull(token, "token");
        IdempotencyStore.requirePositive(retention, "retention");
        return write("completing idempotency key '" + key + "'", c -> keys.complete(c, key, token, retention));
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code key} is blank
     * @throws JdbcTransportException    when the database fails
     */
    @Override
    public boolean release(String key, String token) {
        IdempotencyStore.requireValidKey(key);
        Objects.requireNonNull(token, "token");
        return write("releasing idempotency key '" + key + "'", c -> keys.release(c, key, token));
    }

    /**
     * Deletes every expired key now (the transport's cleanup also does, every cleanup interval).
     *
     * @return how many rows were deleted
     * @throws JdbcTransportException when the database fails
     */
    public int purgeExpired() {
        checkOpen.run();
        try {
            return Cleaner.purgeExpiredKeys(keys, db);
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("deleting expired idempotency keys", db.target(), e);
        }
    }

    private void purgeQuietly() {
        try {
            purgeExpired();
        } catch (RuntimeException e) {
            log.warn("deleting expired idempotency keys failed, will try again: {}", e.toString());
        }
    }

    private <T> T write(String action, SqlFunction<T> work) {
        checkOpen.run();
        try {
            return db.atomicWrite(work);
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate(action, db.target(), e);
        }
    }

    /**
     * Closes a store from {@link #open}: stops its cleanup and closes the pool it created. Does nothing
     * for a store {@linkplain #of of a transport}. Idempotent.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            closeAction.run();
        }
    }

    @Override
    public String toString() {
        return description;
    }
}
