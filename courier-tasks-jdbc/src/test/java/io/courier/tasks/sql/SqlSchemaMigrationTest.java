package io.courier.tasks.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.tasks.TaskState;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upgrades of the SQL task schema: a database written by the version 1 schema (made here with the
 * v1 DDL, as an earlier Courier made it) is migrated when a store opens it, keeps its tasks, and is
 * not migrated twice; a newer schema is refused.
 */
class SqlSchemaMigrationTest {

    private static final String PREFIX = SqlTaskStore.DEFAULT_TABLE_PREFIX;

    @TempDir
    Path dir;

    @Test
    void sqliteV1DatabaseIsUpgradedAndKeepsItsTasks() throws Exception {
        Path file = dir.resolve("v1.db");
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + file)) {
            createV1WithOnePendingTask(c, SqlDialect.SQLITE);
        }
        try (SqlTaskStore store = SqlTaskStore.sqlite(file)) {
            assertUpgradedAndTaskRuns(store);
        }
        try (SqlTaskStore again = SqlTaskStore.sqlite(file);
             Connection c = again.dataSource().getConnection()) {
            assertThat(versions(c)).containsExactlyElementsOf(allVersions());
        }
    }

    @Test
    void postgresV1DatabaseIsUpgradedToPartialIndexesAndKeepsItsTasks() throws Exception {
        String schema = "tasks_migrate_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        PostgresTaskStoreTest.execute("CREATE SCHEMA " + schema);
        String url = PostgresTaskStoreTest.URL + "?currentSchema=" + schema;
        try {
            try (Connection c = DriverManager.getConnection(url, PostgresTaskStoreTest.USER, "")) {
                createV1WithOnePendingTask(c, SqlDialect.POSTGRESQL);
                assertThat(indexes(c, schema)).contains(PREFIX + "tasks_queue_state").doesNotContain(PREFIX + "tasks_pending");
            }
            try (SqlTaskStore store = SqlTaskStore.postgres(url, PostgresTaskStoreTest.USER, "")) {
                assertUpgradedAndTaskRuns(store);
                try (Connection c = store.dataSource().getConnection()) {
                    assertThat(indexes(c, schema))
                            .contains(PREFIX + "tasks_pending", PREFIX + "tasks_active", PREFIX + "tasks_waiting", PREFIX + "tasks_completed",
                                    PREFIX + "tasks_completed_expires")
                            .doesNotContain(PREFIX + "tasks_queue_state", PREFIX + "tasks_state_lease",
                                    PREFIX + "tasks_state_expires");
                }
            }
            try (SqlTaskStore again = SqlTaskStore.postgres(url, PostgresTaskStoreTest.USER, "");
                 Connection c = again.dataSource().getConnection()) {
                assertThat(versions(c)).containsExactlyElementsOf(allVersions());
            }
        } finally {
            PostgresTaskStoreTest.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
    }

    @Test
    void newDatabaseRecordsEveryVersionAndANewerOneIsRefused() throws Exception {
        Path file = dir.resolve("new.db");
        try (SqlTaskStore store = SqlTaskStore.sqlite(file);
             Connection c = store.dataSource().getConnection();
             Statement s = c.createStatement()) {
            assertThat(versions(c)).containsExactlyElementsOf(allVersions());
            s.execute("INSERT INTO " + PREFIX + "task_schema (version) VALUES (" + (SqlTaskStore.SCHEMA_VERSION + 1) + ")");
        }
        assertThatThrownBy(() -> SqlTaskStore.sqlite(file))
                .isInstanceOf(TaskStoreException.class)
                .hasMessageContaining("schema version " + (SqlTaskStore.SCHEMA_VERSION + 1))
                .hasMessageContaining("upgrade Courier");
    }

    /** The v1 tables, version row 1 and one pending task row, written as Courier 0.1 wrote them. */
    private static void createV1WithOnePendingTask(Connection c, SqlDialect dialect) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE " + PREFIX + "task_schema (version INTEGER NOT NULL)");
            for (String ddl : dialect.schemaV1(PREFIX)) {
                s.execute(ddl);
            }
            s.execute("INSERT INTO " + PREFIX + "task_schema (version) VALUES (1)");
        }
        long now = Instant.now().toEpochMilli();
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + PREFIX + "tasks (id, queue, type, payload, state, "
                + "retried, max_retry, retention_ms, enqueued_at, process_at) VALUES (?, 'default', 'old:task', ?, 'pending', "
                + "0, 25, 0, ?, ?)")) {
            ps.setString(1, "written-by-v1");
            ps.setBytes(2, "{}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            ps.setLong(3, now);
            ps.setLong(4, now);
            ps.executeUpdate();
        }
    }

    private static void assertUpgradedAndTaskRuns(SqlTaskStore store) throws SQLException {
        try (Connection c = store.dataSource().getConnection()) {
            assertThat(versions(c)).containsExactlyElementsOf(allVersions());
        }
        assertThat(store.getTask("written-by-v1")).hasValueSatisfying(t -> assertThat(t.state()).isEqualTo(TaskState.PENDING));
        // Version 3 counted the tasks the database already held.
        assertThat(store.queueInfo("default", java.time.LocalDate.now()).pending()).isEqualTo(1);
        assertThat(store.queueNames()).containsExactly("default");
        List<ClaimedTask> claimed = store.claim("default", 10, "worker", Instant.now(), Duration.ofSeconds(30));
        assertThat(claimed).extracting(t -> t.info().id()).containsExactly("written-by-v1");
        Set<String> lost = store.completeAll(List.of(new Lease("written-by-v1", claimed.get(0).leaseToken())), Instant.now());
        assertThat(lost).isEmpty();
        assertThat(store.getTask("written-by-v1")).isEmpty();
        assertThat(store.queueInfo("default", java.time.LocalDate.now()).size()).isZero();
    }

    private static List<Integer> allVersions() {
        return java.util.stream.IntStream.rangeClosed(1, SqlTaskStore.SCHEMA_VERSION).boxed().toList();
    }

    private static List<Integer> versions(Connection c) throws SQLException {
        List<Integer> versions = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM " + PREFIX + "task_schema ORDER BY version")) {
            while (rs.next()) {
                versions.add(rs.getInt(1));
            }
        }
        return versions;
    }

    private static List<String> indexes(Connection c, String schema) throws SQLException {
        List<String> names = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT indexname FROM pg_indexes WHERE schemaname = ?")) {
            ps.setString(1, schema);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                }
            }
        }
        return names;
    }
}
