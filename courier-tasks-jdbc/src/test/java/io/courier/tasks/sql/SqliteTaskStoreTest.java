package io.courier.tasks.sql;

import io.courier.testkit.tasks.TaskStoreConformanceSuite;
import io.courier.testkit.tasks.TaskStoreFactory;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/** The task-store conformance suite on an embedded SQLite file, a new one per test. */
class SqliteTaskStoreTest extends TaskStoreConformanceSuite {

    @TempDir
    Path dir;

    /** Opens {@code config.file}; loaded by name in the SIGKILL test's child JVM. */
    public static final class Factory implements TaskStoreFactory {
        @Override
        public SqlTaskStore open(Map<String, String> config) {
            return SqlTaskStore.sqlite(Path.of(config.get("file")));
        }
    }

    @Override
    protected Map<String, String> newStoreConfig() {
        return Map.of("file", dir.resolve("tasks.db").toString());
    }

    @Override
    protected Class<Factory> storeFactory() {
        return Factory.class;
    }

    @Override
    protected Connection callerConnection() throws SQLException {
        return ((SqlTaskStore) store).dataSource().getConnection();
    }
}
