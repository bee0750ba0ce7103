package io.courier.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The migrator against real databases: SQLite files and throwaway PostgreSQL schemas. Each "process"
 * is a pool of its own.
 */
class MigratorTest {

    private static final TablePrefix PREFIX = new TablePrefix("m_");
    private static final int PROCESSES = 4;

    @TempDir
    Path dir;

    private final List<SqlPool> pools = new ArrayList<>();
    private final List<String> schemas = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        pools.forEach(SqlPool::close);
        schemas.forEach(TestDatabases::dropSchema);
    }

    /** A new empty database of {@code kind}: the target of {@link #process}. */
    private String newDatabase(DatabaseKind kind) {
        if (kind == DatabaseKind.SQLITE) {
            return dir.resolve("db-" + schemas.size() + "-" + System.nanoTime() + ".db").toString();
        }
        String schema = TestDatabases.createSchema();
        schemas.add(schema);
        return schema;
    }

    /** A pool of its own on {@code database}, like another process would have. */
    private SqlPool process(DatabaseKind kind, String database) throws Exception {
        SqlPool pool = kind == DatabaseKind.SQLITE ? TestDatabases.sqlitePool(Path.of(database), "p" + pools.size())
                : TestDatabases.postgresPool(database, "p" + pools.size());
        pools.add(pool);
        return pool;
    }

    private static Migrator migrator(SqlPool pool) {
        return Migrator.forTable(pool.dataSource(), pool.kind(), PREFIX, "test_schema");
    }

    /**
     * Three versions. Each creates a table (which fails if run twice) and logs itself in
     * {@code m_log}, created by version 1: a version applied twice would show as two log rows or an error.
     */
    private static List<Migration> migrations() {
        List<Migration> list = new ArrayList<>();
        list.add(new Migration(1, "log and first table", List.of(
                "CREATE TABLE m_log (version INTEGER NOT NULL)",
                "CREATE TABLE m_one (id INTEGER PRIMARY KEY)",
                "INSERT INTO m_log (version) VALUES (1)")));
        for (int v = 2; v <= 3; v++) {
            list.add(new Migration(v, "table " + v, List.of(
                    "CREATE TABLE m_t" + v + " (id INTEGER PRIMARY KEY, payload " + "TEXT)",
                    "INSERT INTO m_log (version) VALUES (" + v + ")")));
        }
        return list;
    }

    @ParameterizedTest
    @EnumSource(DatabaseKind.class)
    void processesStartingTogetherApplyEachMigrationOnce(DatabaseKind kind) throws Exception {
        for (int round = 0; round < 5; round++) {
            String database = newDatabase(kind);
            List<SqlPool> processes = new ArrayList<>();
            for (int i = 0; i < PROCESSES; i++) {
                processes.add(process(kind, database));
            }
            CyclicBarrier start = new CyclicBarrier(PROCESSES);
            ExecutorService threads = Executors.newFixedThreadPool(PROCESSES);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (SqlPool p : processes) {
                    Callable<Integer> migrate = () -> {
                        start.await(10, TimeUnit.SECONDS);
                        return migrator(p).apply(migrations());
                    };
                    results.add(threads.submit(migrate));
                }
                for (Future<Integer> r : results) {
                    assertThat(r.get(60, TimeUnit.SECONDS)).isEqualTo(3);
                }
            } finally {
                threads.shutdownNow();
            }
            SqlPool any = processes.get(0);
            assertThat(ints(any, "SELECT version FROM m_log ORDER BY version")).as("round %d", round).containsExactly(1, 2, 3);
            assertThat(ints(any, "SELECT version FROM m_test_schema ORDER BY version")).containsExactly(1, 2, 3);
            assertThat(migrator(any).currentVersion()).isEqualTo(3);
        }
    }

    @ParameterizedTest
    @EnumSource(DatabaseKind.class)
    void anOlderSchemaGetsOnlyTheMigrationsItLacks(DatabaseKind kind) throws Exception {
        SqlPool pool = process(kind, newDatabase(kind));
        assertThat(migrator(pool).apply(migrations().subList(0, 1))).isEqualTo(1);
        assertThat(migrator(pool).apply(migrations())).isEqualTo(3);
        assertThat(migrator(pool).apply(migrations())).isEqualTo(3);
        assertThat(ints(pool, "SELECT version FROM m_log ORDER BY version")).containsExactly(1, 2, 3);
        assertThat(strings(pool, "SELECT description FROM m_test_schema ORDER BY version"))
                .containsExactly("log and first table", "table 2", "table 3");
    }

    @ParameterizedTest
    @EnumSource(DatabaseKind.class)
    void aNewerSchemaIsRefusedAndLeftAlone(DatabaseKind kind) throws Exception {
        SqlPool pool = process(kind, newDatabase(kind));
        migrator(pool).apply(migrations());

        assertThatThrownBy(() -> migrator(pool).apply(migrations().subList(0, 2)))
                .isInstanceOfSatisfying(SchemaTooNewException.class, e -> {
                    assertThat(e.found()).isEqualTo(3);
                    assertThat(e.supported()).isEqualTo(2);
                    assertThat(e.versionTable()).isEqualTo("m_test_schema");
                })
                .hasMessage("table m_test_schema records schema version 3, newer than this Courier version supports (2):"
                        + " upgrade Courier");
        assertThat(SqlErrors.classify(catchApply(pool, migrations().subList(0, 2)))).isEqualTo(SqlFailure.Reason.SCHEMA);
        assertThat(ints(pool, "SELECT version FROM m_test_schema ORDER BY version")).containsExactly(1, 2, 3);
    }

    @ParameterizedTest
    @EnumSource(DatabaseKind.class)
    void aFailingMigrationRollsBackEveryMigrationOfTheRun(DatabaseKind kind) throws Exception {
        SqlPool pool = process(kind, newDatabase(kind));
        List<Migration> broken = new ArrayList<>(migrations());
        broken.set(2, new Migration(3, "broken", List.of(
                "CREATE TABLE m_t3 (id INTEGER PRIMARY KEY)",
                "INSERT INTO m_log (version) VALUES (3)",
                "INSERT INTO m_no_such_table (x) VALUES (1)")));

        assertThatThrownBy(() -> migrator(pool).apply(broken)).isInstanceOf(SQLException.class);

        assertThat(migrator(pool).currentVersion()).isZero();
        assertThat(tableExists(pool, "m_log")).isFalse();
        assertThat(tableExists(pool, "m_one")).isFalse();
        assertThat(tableExists(pool, "m_t3")).isFalse();
        // The next start applies the fixed migrations from the beginning.
        assertThat(migrator(pool).apply(migrations())).isEqualTo(3);
        assertThat(ints(pool, "SELECT version FROM m_log ORDER BY version")).containsExactly(1, 2, 3);
    }

    @ParameterizedTest
    @EnumSource(DatabaseKind.class)
    void aVersionOnlyTableRecordsOneColumn(DatabaseKind kind) throws Exception {
        SqlPool pool = process(kind, newDatabase(kind));
        Migrator versionOnly = migrator(pool).withVersionOnlyTable();
        assertThat(versionOnly.apply(migrations())).isEqualTo(3);
        assertThat(ints(pool, "SELECT version FROM m_test_schema ORDER BY version")).containsExactly(1, 2, 3);
        // What earlier task stores wrote by hand: one more version, in that one column.
        execute(pool, "INSERT INTO m_test_schema (version) VALUES (4)");
        assertThatThrownBy(() -> versionOnly.apply(migrations())).isInstanceOf(SchemaTooNewException.class)
                .hasMessageContaining("schema version 4");
    }

    @Test
    void versionsMustBeOneTwoThree() {
        Migrator m = Migrator.forTable(new org.sqlite.SQLiteDataSource(), DatabaseKind.SQLITE, PREFIX, "x_schema");
        assertThatThrownBy(() -> m.apply(List.of(migrations().get(1))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("migration versions must be 1, 2, 3, ... in order, but migration 1 of the list has version 2");
        assertThatThrownBy(() -> Migrator.forTable(new org.sqlite.SQLiteDataSource(), DatabaseKind.SQLITE, PREFIX, "X; DROP"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private Throwable catchApply(SqlPool pool, List<Migration> migrations) {
        try {
            migrator(pool).apply(migrations);
            throw new AssertionError("expected a failure");
        } catch (SQLException | RuntimeException e) {
            return e;
        }
    }

    private static boolean tableExists(SqlPool pool, String table) throws SQLException {
        try (Connection c = pool.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.executeQuery("SELECT COUNT(*) FROM " + table).close();
            return true;
        } catch (SQLException e) {
            if (SqlErrors.isMissingTable(e)) {
                return false;
            }
            throw e;
        }
    }

    private static void execute(SqlPool pool, String sql) throws SQLException {
        try (Connection c = pool.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static List<Integer> ints(SqlPool pool, String sql) throws SQLException {
        List<Integer> out = new ArrayList<>();
        try (Connection c = pool.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getInt(1));
            }
        }
        return out;
    }

    private static List<String> strings(SqlPool pool, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = pool.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
}
