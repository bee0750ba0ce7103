package io.courier.jdbc;

import io.courier.testkit.idempotency.IdempotencyStoreConformanceSuite;
import io.courier.testkit.idempotency.IdempotencyStoreFactory;
import java.util.Map;

/** {@link JdbcIdempotencyStore} on PostgreSQL (a throwaway schema per test) against the idempotency-store suite. */
class PostgresIdempotencyStoreTest extends IdempotencyStoreConformanceSuite {

    @Override
    protected Map<String, String> newStoreConfig() {
        String schema = Postgres.createSchema();
        return Map.of("url", Postgres.url(schema), "schema", schema);
    }

    @Override
    protected Class<? extends IdempotencyStoreFactory> storeFactory() {
        return IdempotencyStores.class;
    }

    @Override
    protected boolean sharedAcrossProcesses() {
        return true;
    }

    @Override
    protected void dropStore(Map<String, String> config) {
        Postgres.dropSchema(config.get("schema"));
    }
}
