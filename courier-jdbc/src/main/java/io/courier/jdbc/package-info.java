/**
 * The SQL transport: {@link io.courier.jdbc.JdbcTransport} over an embedded SQLite file (the
 * zero-setup default) or PostgreSQL; {@link io.courier.jdbc.JdbcPublisher} to publish inside the
 * caller's transaction (the outbox); {@link io.courier.jdbc.JdbcIdempotentHandler} to run a
 * handler's writes and its idempotency claim in one transaction; {@link io.courier.jdbc.JdbcIdempotencyStore},
 * an {@link io.courier.IdempotencyStore} in SQL for the idempotency middleware with any transport.
 *
 * <p>Everything in {@code io.courier.jdbc.internal} is implementation and may change.
 */
package io.courier.jdbc;
