package io.courier.tasks.sql;

import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.ArrivalListeners;
import io.courier.tasks.spi.TaskArrivals;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;

/**
 * SQLite's announcements: in this JVM only, to the subscribers of every open store on the same
 * database file and table prefix. SQLite has no way to signal another process, whose servers find
 * new tasks at their next poll.
 *
 * <p>The stores of one file find each other through a registry for the JVM, keyed by the file's real
 * path and the table prefix; an entry lives while a store of it is open. It holds nothing but the
 * listeners of open stores' subscriptions. A database that is not a file ({@code :memory:}) gets
 * announcements of its own store only.
 */
final class SqliteArrivals extends SqlArrivals {

    private static final Map<String, Shared> OPEN = new ConcurrentHashMap<>();

    private final String key;
    private final Shared shared;
    private final AtomicBoolean closed = new AtomicBoolean();

    SqliteArrivals(DataSource dataSource, String prefix) {
        String file = databaseFile(dataSource);
        if (file.isEmpty()) {
            this.key = null;
            this.shared = new Shared();
        } else {
            this.key = file + '\u0000' + prefix;
            this.shared = OPEN.compute(key, (k, s) -> {
                Shared result = s != null ? s : new Shared();
                result.stores++;
                return result;
            });
        }
    }

    @Override
    void committed(String queue, String message) {
        shared.listeners.deliver(queue, message);
    }

    @Override
    void committed(Connection c, String queue, String message) {
        committed(queue, message);
    }

    /**
     * Announces at once: a server woken now waits for the caller's write lock (SQLite's busy handler
     * retries every few milliseconds) and then finds the task, unless the caller rolls back.
     */
    @Override
    void inCallerTransaction(Connection c, String queue, String message) {
        committed(queue, message);
    }

    @Override
    TaskArrivals.Subscription subscribe(Collection<String> queues, ArrivalListener listener) {
        return shared.listeners.add(queues, listener);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && key != null) {
            OPEN.computeIfPresent(key, (k, s) -> --s.stores == 0 ? null : s);
        }
    }

    /** The real path of the main database's file, or "" when it has none. */
    private static String databaseFile(DataSource dataSource) {
        try (Connection c = dataSource.getConnection();
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("PRAGMA database_list")) {
            while (rs.next()) {
                if ("main".equals(rs.getString("name"))) {
                    String file = rs.getString("file");
                    if (file == null || file.isEmpty()) {
                        return "";
                    }
                    Path path = Path.of(file);
                    return (Files.exists(path) ? path.toRealPath() : path.toAbsolutePath()).toString();
                }
            }
            return "";
        } catch (SQLException | java.io.IOException e) {
            throw new TaskStoreException("sqlite task store: cannot find the database file: " + e.getMessage(), e);
        }
    }

    /** The subscribers of one database file and prefix, and how many stores of it are open. */
    private static final class Shared {
        final ArrivalListeners listeners = new ArrivalListeners();
        int stores;
    }
}
