package io.courier.jdbc;

import io.courier.Transport;
import io.courier.testkit.TransportConformanceSuite;
import io.courier.testkit.TransportFactory;
import io.courier.testkit.TransportFeatures;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/** The SQL transport on an embedded SQLite file against the conformance suite. */
class SqliteConformanceTest extends TransportConformanceSuite {

    @TempDir
    static Path dir;

    private Connection lockHolder;

    @Override
    protected Transport createTransport() {
        return JdbcTransport.sqlite(dir.resolve("courier.db")).build();   // the same file on every call
    }

    /** The transport's own shared store, not the suite's in-memory default. */
    @Override
    protected io.courier.IdempotencyStore idempotencyStore() {
        return JdbcIdempotencyStore.of((JdbcTransport) transport());
    }

    @Override
    protected TransportFeatures features() {
        return TransportFeatures.builder()
                .persistent(true)
                .survivesRestart(true)
                .crossProcess(true)
                .delayedDelivery(true)
                .keyOrdering(true)
                .connectionFaults(true)
                .maxPayloadBytes(JdbcTransport.DEFAULT_MAX_PAYLOAD_BYTES)
                .build();
    }

    /**
     * An embedded file has no connection to cut; its outage is another process holding the write lock
     * (a long transaction, a backup, a migration): every write of the transport, publishes and claims
     * alike, waits up to the busy timeout and then fails, until the lock is released.
     */
    @Override
    protected void cutConnections() throws Exception {
        lockHolder = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("courier.db"));
        try (Statement s = lockHolder.createStatement()) {
            s.execute("BEGIN EXCLUSIVE");
        }
    }

    @Override
    protected void healConnections() throws Exception {
        if (lockHolder != null) {
            try (Connection c = lockHolder; Statement s = c.createStatement()) {
                s.execute("ROLLBACK");
            } finally {
                lockHolder = null;
            }
        }
    }

    @Override
    protected Class<? extends TransportFactory> childTransportFactory() {
        return SqliteChildFactory.class;
    }

    @Override
    protected Map<String, String> childTransportConfig() {
        return Map.of("file", dir.resolve("courier.db").toString());
    }
}
