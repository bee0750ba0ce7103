package io.courier.sql;

import java.nio.file.Path;
import java.time.Duration;
import javax.sql.DataSource;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The only class of this module that links against sqlite-jdbc: loaded only by
 * {@link SqlPool#sqlite}, after the driver was found, so a PostgreSQL user may leave sqlite-jdbc out.
 */
final class SqliteDataSources {

    private SqliteDataSources() {
    }

    /**
     * A data source for the SQLite file {@code file}: WAL journal, {@code synchronous=NORMAL} (a commit
     * survives a process crash), a busy timeout for other connections' write locks, and, when
     * {@code immediateTransactions}, {@code BEGIN IMMEDIATE} for transactions begun by turning
     * auto-commit off.
     */
    static DataSource create(Path file, Duration busyTimeout, boolean immediateTransactions) {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
        config.setBusyTimeout((int) Math.min(Integer.MAX_VALUE, busyTimeout.toMillis()));
        if (immediateTransactions) {
            config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        }
        SQLiteDataSource sqlite = new SQLiteDataSource(config);
        sqlite.setUrl("jdbc:sqlite:" + file);
        return sqlite;
    }
}
