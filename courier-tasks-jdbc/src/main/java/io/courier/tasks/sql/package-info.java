/**
 * The SQL task store: {@link io.courier.tasks.sql.SqlTaskStore} over an embedded SQLite file or
 * PostgreSQL, with transactional enqueue. Dialect differences live in one package-private adapter.
 */
package io.courier.tasks.sql;
