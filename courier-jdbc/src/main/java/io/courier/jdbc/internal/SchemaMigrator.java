package io.courier.jdbc.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and upgrades Courier's tables. All pending migrations run in one transaction, which on
 * SQLite holds the write lock and on PostgreSQL an advisory lock: processes starting at the same
 * time apply each migration exactly once, and the loser sees the winner's result.
 */
public final class SchemaMigrator {

    private static final Logger log = LoggerFactory.getLogger(SchemaMigrator.class);

    private SchemaMigrator() {
    }

    /**
     * Brings the schema up to date and returns its version.
     *
     * @throws IllegalStateException when the database holds a newer schema than this library knows
     */
    public static int migrate(Database db, Clock clock) throws SQLException {
        SqlDialect dialect = db.dialect();
        Tables t = db.tables();
        List<Migration> migrations = dialect.migrations(t);
        int latest = migrations.get(migrations.size() - 1).version();
        // Cheap read first: an up-to-date schema needs no write lock at all.
        Integer current = db.read(c -> currentVersion(c, t));
        if (current != null && current == latest) {
            return latest;
        }
        return db.inTransaction(c -> {
            dialect.lockSchema(c, t);
            try (Statement s = c.createStatement()) {
                s.execute(dialect.createSchemaVersionTable(t));
            }
            Integer found = currentVersion(c, t);
            int version = found == null ? 0 : found;
            if (version > latest) {
                throw new IllegalStateException("the database schema of tables '" + t.prefix() + "*' is at version "
                        + version + ", newer than this Courier version supports (" + latest + "): upgrade Courier");
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
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + t.schemaVersion()
                        + " (version, description, applied_at) VALUES (?, ?, ?)")) {
                    ps.setInt(1, m.version());
                    ps.setString(2, m.description());
                    ps.setLong(3, clock.millis());
                    ps.executeUpdate();
                }
                log.info("applied Courier schema migration {} ({}) to tables '{}*'", m.version(), m.description(), t.prefix());
            }
            return latest;
        });
    }

    /** The applied version, or null when the version table does not exist yet. */
    private static Integer currentVersion(Connection c, Tables t) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT MAX(version) FROM " + t.schemaVersion())) {
            rs.next();
            int v = rs.getInt(1);
            return rs.wasNull() ? 0 : v;
        } catch (SQLException e) {
            if (tableMissing(e)) {
                if (!c.getAutoCommit()) {
                    // PostgreSQL aborts the transaction on any error; this path only runs outside one.
                    throw e;
                }
                return null;
            }
            throw e;
        }
    }

    private static boolean tableMissing(SQLException e) {
        String msg = String.valueOf(e.getMessage());
        return "42P01".equals(e.getSQLState()) || msg.contains("no such table");
    }
}
