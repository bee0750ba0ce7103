/**
 * Implementation of the SQL transport: not an API. Classes here may change in any release.
 *
 * <p>{@link io.courier.jdbc.internal.SqlDialect} holds everything that differs between SQLite and
 * PostgreSQL; {@link io.courier.jdbc.internal.MessageStore} the SQL they share;
 * {@link io.courier.jdbc.internal.PublishWriter} batches publishes into transactions;
 * {@link io.courier.jdbc.internal.JdbcSubscription} claims, runs handlers and settles.
 */
package io.courier.jdbc.internal;
