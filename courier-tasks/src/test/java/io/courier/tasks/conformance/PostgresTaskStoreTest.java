package io.courier.tasks.conformance;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;

/** The conformance suite on PostgreSQL (127.0.0.1:5432, db test), one fresh schema per test, dropped after. */
class PostgresTaskStoreTest extends TaskStoreConformanceTest {

    @Override
    protected List<String> newStoreSpec() throws Exception {
        String schema = "tasks_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        execute("CREATE SCHEMA " + schema);
        return List.of("postgres", schema);
    }

    @Override
    protected void dropStore(List<String> spec) throws Exception {
        execute("DROP SCHEMA IF EXISTS " + spec.get(1) + " CASCADE");
    }

    private static void execute(String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(TestStores.POSTGRES_URL, TestStores.POSTGRES_USER, "");
             Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }
}
