package io.courier.jdbc;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishResult;
import java.sql.Connection;
import java.time.Instant;
import java.util.List;

/**
 * Publishes inside the caller's own database transaction: the message exists if and only if that
 * transaction commits. This is the base of the transactional outbox: save an order and publish
 * {@code order.created} in one transaction, and neither can happen without the other.
 *
 * <pre>{@code
 * JdbcPublisher outbox = transport.transactionalPublisher();
 * try (Connection tx = transport.dataSource().getConnection()) {
 *     tx.setAutoCommit(false);
 *     insertOrder(tx, order);
 *     outbox.publish(tx, "order.created", Message.builder().key(order.id()).payload(json).build());
 *     tx.commit();                      // the order and the message, or neither
 * }
 * }</pre>
 *
 * <p>The connection must reach the transport's database (same SQLite file, same PostgreSQL
 * database and schema). Courier does not commit, roll back or close it, except that a connection in
 * auto-commit mode gets a transaction of its own for the call. On PostgreSQL use READ COMMITTED
 * (the default) for transactions you publish in: under REPEATABLE READ a consumer group created
 * after the transaction's snapshot would not receive the message. Consumers in other processes
 * learn of the message on commit (PostgreSQL NOTIFY is transactional) or, on SQLite, at their next
 * poll. Transactions that commit out of order are never skipped: consumers do not track a position.
 *
 * <p>Thread-safe; each connection is used by one thread at a time, as JDBC requires. Every method
 * throws {@link PublishException} when the database refuses the write (the caller should then roll
 * back), and {@link IllegalArgumentException} or {@link io.courier.MessageTooLargeException} for
 * invalid input.
 */
public interface JdbcPublisher {

    /** Inserts {@code message} for {@code topic} in {@code transaction}; visible to consumers on commit. */
    PublishResult publish(Connection transaction, String topic, Message message);

    /** Like {@link #publish}, deliverable no earlier than {@code deliverAt} (a past time means now). */
    PublishResult publishAt(Connection transaction, String topic, Message message, Instant deliverAt);

    /** Inserts every message for {@code topic} in {@code transaction}; one result per message, in order. */
    List<PublishResult> publishAll(Connection transaction, String topic, List<Message> messages);
}
