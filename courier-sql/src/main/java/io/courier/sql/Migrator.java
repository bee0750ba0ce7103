package io.courier.sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and upgrades one module's tables: applies the module's ordered {@link Migration}s that the
 * database lacks and records each in the module's version table ({@code <prefix><versionTable>}).
 *
 * <pre>{@code
 * List<Migration> migrations = List.of(
 *         new Migration(1, "outbox", List.of("CREATE TABLE " + prefix.name("outbox") + " (...)")));
 * int version = Migrator.forTable(dataSource, DatabaseKind.detect(connection), prefix, "outbox_schema")
 *         .apply(migrations);
 * }</pre>
 *
 * <p><b>Concurrency.</b> All pending migrations run in one transaction that holds SQLite's write lock
 * ({@code BEGIN IMMEDIATE}) or, on PostgreSQL, the transaction's {@linkplain AdvisoryLocks advisory lock}
 * for the prefix and {@link #lockPurpose(String) lock purpose}. Processes that start at the same time
 * therefore apply each migration exactly once: the one that waited finds the versions recorded and
 * applies nothing. A failure in any statement rolls back the whole transaction, every migration of
 * this run with it (PostgreSQL and SQLite both roll back DDL), and the next start tries again.
 * A schema that is already up to date costs one read and no lock.
 *
 * <p><b>Newer schemas.</b> A database whose version table records a version beyond the last migration
 * given was written by a newer Courier: {@link #apply} refuses it with a {@link SchemaTooNewException}
 * and changes nothing.
 *
 * <p><b>Version tables.</b> Each module names its own version table under the common prefix, so
 * modules sharing a database and prefix keep separate version numbers. New modules use the standard
 * layout, {@code (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)};
 * {@link #withVersionOnlyTable()} selects the one-column layout {@code (version INTEGER NOT NULL)} that
 * the task store has always used.
 *
 * <p>Immutable and thread-safe; {@link #apply} may be called from several threads and processes at once.
 */
public final class Migrator {

    private static final Logger log = LoggerFactory.getLogger(Migrator.class);
    private static final Pattern SUFFIX = Pattern.compile("[a-z0-9_]+");

    private final DataSource dataSource;
    private final DatabaseKind kind;
    private final TablePrefix prefix;
    private final String versionTable;
    private final String lockPurpose;
    private final boolean versionOnly;
    private final Clock clock;

    private Migrator(DataSource dataSource, DatabaseKind kind, TablePrefix prefix, String versionTable,
                     String lockPurpose, boolean versionOnly, Clock clock) {
        this.dataSource = dataSource;
        this.kind = kind;
        this.prefix = prefix;
        this.versionTable = versionTable;
        this.lockPurpose = lockPurpose;
        this.versionOnly = versionOnly;
        this.clock = clock;
    }

    /**
     * A migrator for the tables under {@code prefix} whose versions are recorded in
     * {@code prefix.name(versionTable)}, in the standard layout, locking for the purpose
     * {@code versionTable}, stamping {@code applied_at} with the system clock.
     *
     * @param versionTable the version table's name after the prefix, e.g. {@code "outbox_schema"}
     * @throws IllegalArgumentException when {@code versionTable} is not a valid name after the prefix
     */
    public static Migrator forTable(DataSource dataSource, DatabaseKind kind, TablePrefix prefix, String versionTable) {
        Objects.requireNonNull(dataSource, "dataSource");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(prefix, "prefix");
        prefix.name(versionTable);
        if (!SUFFIX.matcher(versionTable).matches()) {
            throw new IllegalArgumentException("versionTable must be lower-case letters, digits or _, but was '"
                    + versionTable + "'");
        }
        return new Migrator(dataSource, kind, prefix, versionTable, versionTable, false, Clock.systemUTC());
    }

    /**
     * The same migrator with another purpose for its PostgreSQL advisory lock (default: the version
     * table's name after the prefix). For a module whose earlier releases locked under another
     * purpose, so that processes of both releases exclude each other.
     */
    public Migrator lockPurpose(String purpose) {
        Objects.requireNonNull(purpose, "purpose");
        return new Migrator(dataSource, kind, prefix, versionTable, purpose, versionOnly, clock);
    }

    /** The same migrator for a version table of one column, {@code (version INTEGER NOT NULL)}. */
    public Migrator withVersionOnlyTable() {
        return new Migrator(dataSource, kind, prefix, versionTable, lockPurpose, true, clock);
    }

    /** The same migrator stamping {@code applied_at} (standard layout) with {@code clock}. */
    public Migrator clock(Clock clock) {
        return new Migrator(dataSource, kind, prefix, versionTable, lockPurpose, versionOnly,
                Objects.requireNonNull(clock, "clock"));
    }

    /** The full name of the version table, e.g. {@code courier_outbox_schema}. */
    public String versionTable() {
        return prefix.name(versionTable);
    }

    /** The standard layout's DDL for version table {@code table} (idempotent: {@code IF NOT EXISTS}). */
    public static String createVersionTableSql(String table) {
        return "CREATE TABLE IF NOT EXISTS " + table
                + " (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)";
    }

    /**
     * The version the database is at: the highest recorded, 0 when the version table is empty or does
     * not exist yet. Takes no lock.
     */
    public int currentVersion() throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            Integer v = readVersion(c);
            return v == null ? 0 : v;
        }
    }

    /**
     * Brings the schema up to the last of {@code migrations} and returns that version.
     *
     * @param migrations the module's migrations in version order: 1, 2, 3, ... without gaps
     * @throws SchemaTooNewException    when the database is at a later version than the last migration
     * @throws SQLException             when the database fails; nothing of this run is applied then
     * @throws IllegalArgumentException when the versions are not 1, 2, 3, ...
     */
    public int apply(List<Migration> migrations) throws SQLException {
        int latest = checkOrder(migrations);
        String table = versionTable();
        // Cheap read first: an up-to-date schema needs no write lock at all.
        Integer current;
        try (Connection c = dataSource.getConnection()) {
            current = readVersion(c);
        }
        if (current != null && current == latest) {
            return latest;
        }
        try (Connection c = dataSource.getConnection()) {
            kind.begin(c);
            try {
                migrateLocked(c, table, migrations, latest);
                kind.commit(c);
            } catch (SQLException | RuntimeException | Error e) {
                try {
                    kind.rollback(c);
                } catch (SQLException | RuntimeException r) {
                    e.addSuppressed(r);
                }
                throw e;
            }
        }
        return latest;
    }

    private void migrateLocked(Connection c, String table, List<Migration> migrations, int latest) throws SQLException {
        if (kind == DatabaseKind.POSTGRESQL) {
            AdvisoryLocks.lock(c, AdvisoryLocks.id(prefix, lockPurpose));
        }
        try (Statement s = c.createStatement()) {
            s.execute(versionOnly ? "CREATE TABLE IF NOT EXISTS " + table + " (version INTEGER NOT NULL)"
                    : createVersionTableSql(table));
        }
        Integer found = readVersion(c);
        int version = found == null ? 0 : found;
        if (version > latest) {
            throw new SchemaTooNewException(table, version, latest);
        }
        for (Migration m : migrations) {
            if (m.version() <= version) {
                continue;
            }
            try (Statement s = c.createStatement()) {
                for (String sql : m.statements()) {
                    s.execute(sql);
                }
            }
            record(c, table, m);
            log.info("applied Courier schema migration {} ({}) to tables '{}*', recorded in {}", m.version(),
                    m.description(), prefix.value(), table);
        }
    }

    private void record(Connection c, String table, Migration m) throws SQLException {
        String sql = versionOnly ? "INSERT INTO " + table + " (version) VALUES (?)"
                : "INSERT INTO " + table + " (version, description, applied_at) VALUES (?, ?, ?)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setInt(1, m.version());
            if (!versionOnly) {
                ps.setString(2, m.description());
                ps.setLong(3, clock.millis());
            }
            ps.executeUpdate();
        }
    }

    /** The highest recorded version; 0 for an empty table; null when the table does not exist (outside a transaction only). */
    private Integer readVersion(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT MAX(version) FROM " + versionTable())) {
            rs.next();
            int v = rs.getInt(1);
            return rs.wasNull() ? 0 : v;
        } catch (SQLException e) {
            // Only the cheap read outside the transaction may find no table: inside it the table was just
            // created (and PostgreSQL would have aborted the transaction on the error).
            if (SqlErrors.isMissingTable(e) && c.getAutoCommit()) {
                return null;
            }
            throw e;
        }
    }

    private static int checkOrder(List<Migration> migrations) {
        Objects.requireNonNull(migrations, "migrations");
        if (migrations.isEmpty()) {
            throw new IllegalArgumentException("migrations must not be empty");
        }
        for (int i = 0; i < migrations.size(); i++) {
            if (migrations.get(i).version() != i + 1) {
                throw new IllegalArgumentException("migration versions must be 1, 2, 3, ... in order, but migration "
                        + (i + 1) + " of the list has version " + migrations.get(i).version());
            }
        }
        return migrations.size();
    }
}
