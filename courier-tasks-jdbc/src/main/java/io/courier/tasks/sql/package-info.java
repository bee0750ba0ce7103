/**
 * The SQL task store: {@link io.courier.tasks.sql.SqlTaskStore} over an embedded SQLite file or
 * PostgreSQL, with transactional enqueue. The task store's own SQL differences live in one
 * package-private adapter; what every Courier SQL module shares (database kinds, the migrator, error
 * translation, the connection pool, the table-prefix rule) comes from {@code io.courier.sql}.
 */
package io.courier.tasks.sql;
