/**
 * Implementation of the SQL transport: not an API. Classes here may change in any release.
 *
 * <p>{@link io.courier.jdbc.internal.SqlDialect} holds everything that differs between SQLite and
 * PostgreSQL; {@link io.courier.jdbc.internal.MessageStore} the SQL they share;
 * {@link io.courier.jdbc.internal.PublishWriter} batches publishes into transactions;
 * {@link io.courier.jdbc.internal.JdbcSource} claims and settles for the consumer engine. What every
 * Courier SQL module shares (database kinds, the migrator, error translation, the connection pool,
 * the table-prefix rule) comes from {@code io.courier.sql}; {@link io.courier.jdbc.internal.SqlErrors}
 * adapts its error translation to {@link io.courier.jdbc.JdbcTransportException}.
 */
package io.courier.jdbc.internal;
