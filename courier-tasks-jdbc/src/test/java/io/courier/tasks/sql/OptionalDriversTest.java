package io.courier.tasks.sql;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.testkit.fault.ChildJvm;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each driver is optional for the task store: with one missing from the classpath the other database
 * works, and asking for the missing one fails at once with a MissingDependencyException naming the
 * artifact. Each case runs {@link OneDriverStoreMain} in a child JVM without the driver's jar.
 */
class OptionalDriversTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private String schema;

    @AfterEach
    void dropSchema() throws SQLException {
        if (schema != null) {
            PostgresTaskStoreTest.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
    }

    @Test
    void postgresStoreWorksWithoutSqliteDriver() throws Exception {
        schema = "tasks_nosqlite_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        PostgresTaskStoreTest.execute("CREATE SCHEMA " + schema);
        assertThat(runWithout("sqlite-jdbc", "postgres", PostgresTaskStoreTest.URL + "?currentSchema=" + schema,
                PostgresTaskStoreTest.USER)).isEqualTo("OK postgresql claimed true completed true");
    }

    @Test
    void unreachablePostgresIsATaskStoreErrorWithoutSqliteDriver() throws Exception {
        assertThat(runWithout("sqlite-jdbc", "postgres-unreachable", "jdbc:postgresql://127.0.0.1:1/test"))
                .startsWith("CAUGHT TaskStoreException cannot connect to the task database");
    }

    @Test
    void askingForSqliteWithoutItsDriverNamesTheArtifact() throws Exception {
        assertThat(runWithout("sqlite-jdbc", "sqlite", dir.resolve("tasks.db").toString()))
                .startsWith("CAUGHT MissingDependencyException SqlTaskStore.sqlite needs org.xerial:sqlite-jdbc");
    }

    @Test
    void sqliteStoreWorksWithoutPostgresDriver() throws Exception {
        assertThat(runWithout("postgresql", "sqlite", dir.resolve("tasks.db").toString()))
                .isEqualTo("OK sqlite claimed true completed true");
    }

    @Test
    void askingForPostgresWithoutItsDriverNamesTheArtifact() throws Exception {
        assertThat(runWithout("postgresql", "postgres", PostgresTaskStoreTest.URL, PostgresTaskStoreTest.USER))
                .startsWith("CAUGHT MissingDependencyException SqlTaskStore.postgres needs org.postgresql:postgresql");
    }

    /** Runs {@link OneDriverStoreMain} with {@code args} on this classpath minus the jar of {@code artifactId}; its result line. */
    private static String runWithout(String artifactId, String... args) throws Exception {
        try (ChildJvm child = ChildJvm.builder(OneDriverStoreMain.class).withoutJar(artifactId).args(args).start()) {
            return child.awaitLine(l -> l.startsWith("RESULT "), TIMEOUT).substring("RESULT ".length());
        }
    }
}
