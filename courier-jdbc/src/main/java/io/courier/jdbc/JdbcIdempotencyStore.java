package io.courier.jdbc;

import io.courier.IdempotencyStore;
import io.courier.jdbc.internal.Cleaner;
import io.courier.jdbc.internal.Database;
import io.courier.jdbc.internal.IdempotencyKeys;
import io.courier.jdbc.internal.SqlErrors;
import io.courier.jdbc.internal.SqlFunction;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;

/**
 * An {@link IdempotencyStore} in the SQL database of a {@link JdbcTransport} (SQLite or PostgreSQL),
 * shared by every process that uses the database and table prefix: the store for
 * {@link io.courier.middleware.IdempotencyMiddleware} when handlers run in several processes, or must
 * remember what they processed across restarts, whatever transport delivers the messages.
 *
 * <pre>{@code
 * JdbcTransport db = JdbcTransport.postgres("jdbc:postgresql://db:5432/app", "app", secret).build();
 * router.use(IdempotencyMiddleware.builder(JdbcIdempotencyStore.of(db))
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
 * On SQLite the statements queue on the transport's in-process write lock behind its other writes.
 * Expired rows count as absent at once and are deleted by the transport's cleanup (every
 * {@link JdbcTransport.Builder#cleanupInterval cleanup interval}) or by {@link #purgeExpired()}.
 *
 * <p>For handlers whose effects are writes to the same database, {@link JdbcIdempotentHandler} is
 * stronger: its claim commits in the handler's own transaction (exactly-once effects), where this store
 * gives at-most-once handler runs. Thread-safe; valid while the transport is open.
 */
public final class JdbcIdempotencyStore implements IdempotencyStore {

    private final JdbcTransport transport;
    private final Database db;
    private final IdempotencyKeys keys;

    private JdbcIdempotencyStore(JdbcTransport transport) {
        this.transport = Objects.requireNonNull(transport, "transport");
        this.db = transport.database();
        this.keys = transport.idempotencyKeys();
    }

    /**
     * A store in the database and under the table prefix of {@code transport}; it uses the transport's
     * connection pool and is valid until the transport is closed. Cheap: stores of one transport share
     * everything.
     */
    public static JdbcIdempotencyStore of(JdbcTransport transport) {
        return new JdbcIdempotencyStore(transport);
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
        transport.checkOpen();
        try {
            return Cleaner.purgeExpiredKeys(keys, db);
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("deleting expired idempotency keys", transport.target(), e);
        }
    }

    private <T> T write(String action, SqlFunction<T> work) {
        transport.checkOpen();
        try {
            return db.atomicWrite(work);
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate(action, transport.target(), e);
        }
    }

    @Override
    public String toString() {
        return "JdbcIdempotencyStore{" + transport + "}";
    }
}
