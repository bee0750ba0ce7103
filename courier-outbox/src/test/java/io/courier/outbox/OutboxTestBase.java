package io.courier.outbox;

import io.courier.jdbc.JdbcTransport;
import io.courier.testkit.Closer;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every outbox test has: a temporary directory for SQLite files, a table prefix of its own, and a
 * {@link Closer} that closes what the test opened and then drops the PostgreSQL tables of the prefix.
 */
abstract class OutboxTestBase {

    @TempDir
    Path dir;

    @RegisterExtension
    final Closer closer = new Closer();

    /** The table prefix of this test: tests on one PostgreSQL database do not see each other. */
    final String prefix = OutboxTestSupport.prefix();

    /** The database this test uses, {@code sqlite} or {@code postgres}; set by {@link #database(String)}. */
    String kind = "postgres";

    @BeforeEach
    void dropTablesAfterwards() {
        closer.add(() -> OutboxTestSupport.dropTables(kind, prefix));   // added first: runs last
    }

    /** Closes {@code resource} after the test. */
    <T extends AutoCloseable> T later(T resource) {
        return closer.add(resource);
    }

    /** A transport on the database of {@code kind} with this test's prefix, closed after the test. */
    JdbcTransport database(String kind) {
        this.kind = kind;
        return later(OutboxTestSupport.database(kind, dir, prefix).build());
    }
}
