package io.courier.saga;

import io.courier.jdbc.JdbcTransport;
import io.courier.testkit.Closer;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every saga test has: a temporary directory for SQLite files, a table prefix of its own, and a
 * {@link Closer} that closes what the test opened and then drops the PostgreSQL tables of the prefix.
 */
abstract class SagaTestBase {

    @TempDir
    Path dir;

    @RegisterExtension
    final Closer closer = new Closer();

    /** The table prefix of this test: tests on one PostgreSQL database do not see each other. */
    final String prefix = SagaTestSupport.prefix();

    /** The database this test uses, {@code sqlite} or {@code postgres}; set by {@link #database(String)}. */
    String kind = "postgres";

    @BeforeEach
    void dropTablesAfterwards() {
        closer.add(() -> SagaTestSupport.dropTables(kind, prefix));   // added first: runs last
    }

    /** Closes {@code resource} after the test. */
    <T extends AutoCloseable> T later(T resource) {
        return closer.add(resource);
    }

    /** A transport on the database of {@code kind} with this test's prefix, closed after the test. */
    JdbcTransport database(String kind) {
        this.kind = kind;
        return later(SagaTestSupport.database(kind, dir, prefix).build());
    }
}
