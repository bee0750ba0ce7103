package io.courier.jdbc;

import io.courier.Transport;
import io.courier.testkit.TransportConformanceSuite;
import io.courier.testkit.TransportFactory;
import io.courier.testkit.TransportFeatures;
import io.courier.testkit.fault.TcpProxy;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The SQL transport on the test PostgreSQL server (a schema of its own, dropped afterwards) against
 * the conformance suite; connections go through a TCP proxy so the suite can cut them.
 */
class PostgresConformanceTest extends TransportConformanceSuite {

    private static String schema;
    private static TcpProxy proxy;

    @BeforeAll
    static void createSchemaAndProxy() throws Exception {
        schema = Postgres.createSchema();
        proxy = TcpProxy.start(Postgres.HOST, Postgres.PORT);
    }

    @AfterAll
    static void dropSchemaAndProxy() {
        proxy.close();
        Postgres.dropSchema(schema);
    }

    @Override
    protected Transport createTransport() {
        return JdbcTransport.postgres(Postgres.url(proxy.host(), proxy.port(), schema), Postgres.USER, "")
                .maxPoolSize(6).build();
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

    @Override
    protected void cutConnections() {
        proxy.cut();
    }

    @Override
    protected void healConnections() {
        proxy.heal();
    }

    @Override
    protected Class<? extends TransportFactory> childTransportFactory() {
        return PostgresChildFactory.class;
    }

    @Override
    protected Map<String, String> childTransportConfig() {
        return Map.of("url", Postgres.url(schema), "user", Postgres.USER);
    }
}
