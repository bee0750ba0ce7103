/**
 * Implementation of the SQL transport: not an API. Classes here may change in any release.
 *
 * <p>{@link io.courier.jdbc.internal.SqlDialect} holds everything that differs between SQLite and
 * PostgreSQL; {@link io.courier.jdbc.internal.MessageStore} the SQL they share;
 * {@link io.courier.jdbc.internal.PublishWriter} batches publishes into transactions;
 * {@link io.courier.jdbc.internal.JdbcSource} claims and settles for the consumer engine.
 */
package io.courier.jdbc.internal;
