/**
 * The transactional outbox: {@link io.courier.outbox.Outbox} writes messages for any broker in the
 * application's own SQLite or PostgreSQL transaction, {@link io.courier.outbox.OutboxRelay} delivers
 * them with the broker's durable acknowledgement, and {@link io.courier.outbox.ParkedMessages} holds
 * the ones a broker refused for good. The consuming side (the inbox) is
 * {@link io.courier.jdbc.JdbcIdempotentHandler}. Guide: {@code docs/outbox.md}.
 */
package io.courier.outbox;
