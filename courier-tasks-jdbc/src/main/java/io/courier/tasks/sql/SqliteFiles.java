package io.courier.tasks.sql;

import java.nio.file.Path;
import javax.sql.DataSource;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The only class of this module that links against sqlite-jdbc: loaded only by
 * {@link SqlTaskStore#sqlite(Path)}, after the driver was found, so a PostgreSQL user may leave
 * sqlite-jdbc out.
 */
final class SqliteFiles {

    static final String DRIVER_CLASS = "org.sqlite.SQLiteDataSource";
    static final String DRIVER_ARTIFACT = "org.xerial:sqlite-jdbc";

    private SqliteFiles() {
    }

    /** WAL journal, {@code synchronous=NORMAL}, 30 s busy timeout, immediate write transactions. */
    static DataSource dataSource(Path file) {
        SQLiteConfig cfg = new SQLiteConfig();
        cfg.setJournalMode(SQLiteConfig.JournalMode.WAL);
        cfg.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
        cfg.setBusyTimeout(30_000);
        cfg.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        SQLiteDataSource sqlite = new SQLiteDataSource(cfg);
        sqlite.setUrl("jdbc:sqlite:" + file.toAbsolutePath());
        return sqlite;
    }
}
