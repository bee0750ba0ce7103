package io.courier.tasks.sql;

import io.courier.testkit.tasks.TaskStoreConformanceSuite;
import io.courier.testkit.tasks.TaskStoreFactory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;

/** The task-store conformance suite on PostgreSQL (127.0.0.1:5432, db test), one fresh schema per test, dropped after. */
class PostgresTaskStoreTest extends TaskStoreConformanceSuite {

    /** The PostgreSQL database the tests use (trust auth). */
    static final String URL = "jdbc:postgresql://127.0.0.1:5432/test";
    /** The PostgreSQL user. */
    static final String USER = "postgres";

    /**
     * Opens the schema {@code config.schema}, with the table prefix {@code config.prefix} if given;
     * loaded by name in the SIGKILL test's child JVM.
     */
    public static final class Factory implements TaskStoreFactory {
        @Override
        public SqlTaskStore open(Map<String, String> config) {
            String url = URL + "?currentSchema=" + config.get("schema");
            String prefix = config.get("prefix");
            return prefix == null ? SqlTaskStore.postgres(url, USER, "") : SqlTaskStore.postgres(url, USER, "", prefix);
        }
    }

    @Override
    protected Map<String, String> newStoreConfig() throws SQLException {
        String schema = "tasks_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        execute("CREATE SCHEMA " + schema);
        return Map.of("schema", schema);
    }

    @Override
    protected void dropStore(Map<String, String> config) throws SQLException {
        execute("DROP SCHEMA IF EXISTS " + config.get("schema") + " CASCADE");
    }

    /** The same schema, tables prefixed {@code other_}. */
    @Override
    protected Map<String, String> otherPrefixConfig(Map<String, String> config) {
        return Map.of("schema", config.get("schema"), "prefix", "other_");
    }

    @Override
    protected Class<Factory> storeFactory() {
        return Factory.class;
    }

    @Override
    protected Connection callerConnection() throws SQLException {
        return ((SqlTaskStore) store).dataSource().getConnection();
    }

    static void execute(String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(URL, USER, "");
             Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
