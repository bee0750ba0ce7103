/**
 * The SQL foundation of Courier's SQL-backed modules ({@code courier-jdbc}, {@code courier-tasks-jdbc},
 * and the outbox and saga stores to come). This is an SPI for those modules, not an application API:
 * an application configures a transport or a store, never these types, and they may change between
 * releases as Courier's SQL modules need.
 *
 * <p>What every SQL module shares lives here once:
 * <ul>
 *   <li>{@link io.courier.sql.DatabaseKind}: SQLite or PostgreSQL, detected from a connection, with the
 *       few SQL fragments that differ between them (blob and 64-bit types, an auto-increment key,
 *       {@code SKIP LOCKED}, how a write transaction begins, commits and rolls back);</li>
 *   <li>{@link io.courier.sql.AdvisoryLocks}: PostgreSQL advisory locks, one id per table prefix and purpose;</li>
 *   <li>{@link io.courier.sql.Migrator} and {@link io.courier.sql.Migration}: a module's ordered schema
 *       migrations, applied exactly once even by processes that start at the same time, recorded in a
 *       version table the module names; a newer schema is refused ({@link io.courier.sql.SchemaTooNewException});</li>
 *   <li>{@link io.courier.sql.SqlErrors} and {@link io.courier.sql.SqlFailure}: a driver exception turned into
 *       a reason and a message that names the database and says what to check, without linking any
 *       driver class;</li>
 *   <li>{@link io.courier.sql.SqlPool}: the HikariCP pool for an SQLite file or a PostgreSQL URL, and a
 *       caller's own {@link javax.sql.DataSource}, which is never closed;</li>
 *   <li>{@link io.courier.sql.TablePrefix}: the one rule for table-name prefixes.</li>
 * </ul>
 *
 * <p>SQL that only one module runs (its tables, claims, publishes) stays in that module, built on
 * these types. Each module keeps its own public exception type and builds it from a
 * {@link io.courier.sql.SqlFailure}.
 *
 * <p><b>Drivers.</b> Both drivers are optional here. Only the SQLite pool links against sqlite-jdbc,
 * in a class loaded after {@link io.courier.sql.DatabaseKind#requireDriver} found it; nothing links
 * against the PostgreSQL driver. A module that offers a database declares its driver and calls
 * {@code requireDriver} before using it, so a missing driver is a
 * {@link io.courier.MissingDependencyException} naming the artifact, never a {@link NoClassDefFoundError}.
 */
package io.courier.sql;
