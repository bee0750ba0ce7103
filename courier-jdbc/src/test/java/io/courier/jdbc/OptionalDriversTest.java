package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.testkit.fault.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each driver is optional: with one of them missing from the classpath (as for a user who excluded
 * it), the other database works fully, its errors are classified, and asking for the missing one
 * fails at once with a {@link io.courier.MissingDependencyException} naming the artifact, never with a
 * {@link NoClassDefFoundError}. Each case runs {@link OneDriverMain} in a child JVM whose classpath
 * is this one without the driver's jar.
 */
class OptionalDriversTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private String schema;

    @AfterEach
    void dropSchema() {
        if (schema != null) {
            Postgres.dropSchema(schema);
        }
    }

    @Test
    void postgresPublishesAndConsumesWithoutSqliteDriver() throws Exception {
        schema = Postgres.createSchema();
        assertThat(runWithout("sqlite-jdbc", "postgres-roundtrip", Postgres.url(schema), Postgres.USER))
                .isEqualTo("OK postgresql received hello");
    }

    @Test
    void postgresConnectionFailureIsAConnectionErrorWithoutSqliteDriver() throws Exception {
        // Port 1: nothing listens there, the connection is refused.
        assertThat(runWithout("sqlite-jdbc", "postgres-unreachable", Postgres.url(Postgres.HOST, 1, null)))
                .startsWith("CAUGHT JdbcTransportException CONNECTION ")
                .contains("cannot connect to PostgreSQL at");
    }

    @Test
    void askingForSqliteWithoutItsDriverNamesTheArtifact() throws Exception {
        assertThat(runWithout("sqlite-jdbc", "ask-sqlite", dir.resolve("q.db").toString()))
                .startsWith("CAUGHT MissingDependencyException org.xerial:sqlite-jdbc ")
                .contains("JdbcTransport.sqlite needs org.xerial:sqlite-jdbc");
    }

    @Test
    void sqlitePublishesAndConsumesWithoutPostgresDriver() throws Exception {
        assertThat(runWithout("postgresql", "sqlite-roundtrip", dir.resolve("q.db").toString()))
                .isEqualTo("OK sqlite received hello");
    }

    @Test
    void askingForPostgresWithoutItsDriverNamesTheArtifact() throws Exception {
        assertThat(runWithout("postgresql", "ask-postgres", Postgres.url(null)))
                .startsWith("CAUGHT MissingDependencyException org.postgresql:postgresql ")
                .contains("JdbcTransport.postgres needs org.postgresql:postgresql");
    }

    /** Runs {@link OneDriverMain} with {@code args} on this classpath minus the jar of {@code artifactId}; its result line. */
    private static String runWithout(String artifactId, String... args) throws Exception {
        try (ChildJvm child = ChildJvm.builder(OneDriverMain.class).withoutJar(artifactId).args(args).start()) {
            return child.awaitLine(l -> l.startsWith("RESULT "), TIMEOUT).substring("RESULT ".length());
        }
    }
}
