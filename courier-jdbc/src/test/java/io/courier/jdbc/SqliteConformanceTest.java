package io.courier.jdbc;

import io.courier.Transport;
import io.courier.testkit.TransportConformanceSuite;
import io.courier.testkit.TransportFactory;
import io.courier.testkit.TransportFeatures;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;

/** The SQL transport on an embedded SQLite file against the conformance suite. */
class SqliteConformanceTest extends TransportConformanceSuite {

    @TempDir
    static Path dir;

    @Override
    protected Transport createTransport() {
        return JdbcTransport.sqlite(dir.resolve("courier.db")).build();   // the same file on every call
    }

    @Override
    protected TransportFeatures features() {
        return TransportFeatures.builder()
                .persistent(true)
                .survivesRestart(true)
                .crossProcess(true)
                .delayedDelivery(true)
                .keyOrdering(true)
                .maxPayloadBytes(JdbcTransport.DEFAULT_MAX_PAYLOAD_BYTES)
                .build();
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
