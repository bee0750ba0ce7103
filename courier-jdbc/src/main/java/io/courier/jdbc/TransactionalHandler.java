package io.courier.jdbc;

import io.courier.Delivery;
import java.sql.Connection;

/**
 * A handler that does its database work in a transaction Courier opens for it, together with the
 * idempotency claim of {@link JdbcIdempotentHandler}. Use {@code transaction} for every write that
 * must happen exactly once per message; do not commit, roll back or close it, and do not change its
 * auto-commit mode: Courier commits when the handler returns and rolls back when it throws.
 */
@FunctionalInterface
public interface TransactionalHandler {

    /**
     * Handles {@code delivery} using {@code transaction}. Throwing rolls back the handler's writes and
     * the idempotency claim together, and the message is redelivered.
     */
    void handle(Delivery delivery, Connection transaction) throws Exception;
}
