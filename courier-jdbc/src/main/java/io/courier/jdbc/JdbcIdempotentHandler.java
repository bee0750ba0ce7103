package io.courier.jdbc;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.jdbc.internal.Database;
import io.courier.jdbc.internal.MessageStore;
import io.courier.middleware.IdempotencyMiddleware;
import java.sql.Connection;
import java.util.Objects;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link TransactionalHandler} at most once per message, consumer group and topic, with the
 * claim "this group processed message X of this topic" and the handler's own writes in one transaction. There is no
 * check-then-act race: the claim is a row with a unique key (scope, message id) inserted first in
 * the transaction, and a second delivery of the same message, even a concurrent one, either waits
 * for the first transaction and finds the claim (skipping the handler) or, if the first rolled back,
 * takes over.
 *
 * <pre>{@code
 * Handler handler = JdbcIdempotentHandler.of(transport, (delivery, tx) -> {
 *     try (PreparedStatement ps = tx.prepareStatement("UPDATE stock SET n = n - 1 WHERE sku = ?")) {
 *         ps.setString(1, delivery.message().payloadAsText());
 *         ps.executeUpdate();
 *     }
 * });
 * transport.subscriber().subscribe("order.created", "inventory", handler);
 * }</pre>
 *
 * <ul>
 *   <li>Handler returns: claim and writes commit together; the delivery is acknowledged.</li>
 *   <li>Handler throws: both roll back; the message is redelivered and handled again.</li>
 *   <li>Handler asks for {@link Delivery#retryAfter}: both roll back, so the retry runs the handler.</li>
 *   <li>Claim already present: the handler is skipped and the delivery acknowledged.</li>
 * </ul>
 *
 * <p>Claims are scoped by consumer group and topic ({@link IdempotencyMiddleware#defaultScope}): a
 * group that consumes several topics carrying the same message id (a message and its dead-letter copy
 * keep one id) runs the handler once per topic. Pass a scope function to choose otherwise.
 *
 * <p>The transaction runs on a connection of the transport's pool, so the handler's tables must
 * live in the transport's database. On SQLite the transaction holds the database's single write
 * lock while the handler runs: it first queues on the transport's in-process write lock, behind (and
 * ahead of) the transport's own publishes, claims and acknowledgements, so handlers of one process
 * wait their turn instead of meeting SQLite's busy timeout; keep such handlers short, since every
 * writer of the process waits for them. Inside the handler, publish with
 * {@link JdbcTransport#transactionalPublisher()} on the handler's connection, never with
 * {@link JdbcTransport#publisher()} and a wait for its future (that writer would wait for this
 * transaction). Claims are kept for the transport's idempotency retention (default 7 days), which must
 * exceed the longest time a duplicate can arrive. Thread-safe.
 */
public final class JdbcIdempotentHandler implements Handler {

    private static final Logger log = LoggerFactory.getLogger(JdbcIdempotentHandler.class);

    private final JdbcTransport transport;
    private final TransactionalHandler handler;
    private final Function<Delivery, String> scope;

    private JdbcIdempotentHandler(JdbcTransport transport, TransactionalHandler handler, Function<Delivery, String> scope) {
        this.transport = Objects.requireNonNull(transport, "transport");
        this.handler = Objects.requireNonNull(handler, "handler");
        this.scope = Objects.requireNonNull(scope, "scope");
    }

    /**
     * An idempotent handler whose claims are scoped by consumer group and topic
     * ({@link IdempotencyMiddleware#defaultScope}, {@code group:topic}).
     */
    public static JdbcIdempotentHandler of(JdbcTransport transport, TransactionalHandler handler) {
        return new JdbcIdempotentHandler(transport, handler, IdempotencyMiddleware::defaultScope);
    }

    /**
     * An idempotent handler with claims scoped by {@code scope}, for example {@code Delivery::group}
     * when a message id must be processed once per group whichever topic brings it. The scope must
     * not be blank.
     */
    public static JdbcIdempotentHandler of(JdbcTransport transport, TransactionalHandler handler,
                                           Function<Delivery, String> scope) {
        return new JdbcIdempotentHandler(transport, handler, scope);
    }

    @Override
    public void handle(Delivery delivery) throws Exception {
        String consumer = scope.apply(delivery);
        if (consumer == null || consumer.isBlank()) {
            throw new IllegalStateException("idempotency scope must not be blank, but was '" + consumer + "' for " + delivery);
        }
        Database db = transport.database();
        MessageStore store = transport.store();
        // SQLite: queue on the transport's in-process write lock first, as its own writers do.
        try (Database.WriteLock lock = db.lockWrites(); Connection c = db.dataSource().getConnection()) {
            db.dialect().begin(c);
            boolean commit = false;
            try {
                if (!store.claimProcessed(c, consumer, delivery.message().id(), transport.clock().millis())) {
                    log.debug("message {} already processed by '{}'; skipping the handler", delivery.message().id(), consumer);
                } else {
                    handler.handle(delivery, c);
                    commit = delivery.retryRequest().isEmpty();
                }
                if (commit) {
                    db.dialect().commit(c);
                } else {
                    db.dialect().rollback(c);
                }
            } catch (Exception | Error e) {
                db.rollbackQuietly(c, e);
                throw e;
            }
        }
    }
}
