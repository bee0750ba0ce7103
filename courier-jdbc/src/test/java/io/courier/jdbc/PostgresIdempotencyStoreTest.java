package io.courier.jdbc;

import java.util.Map;

/** {@link JdbcIdempotencyStore} on PostgreSQL (a throwaway schema per test) against the idempotency-store suite. */
class PostgresIdempotencyStoreTest extends SqlIdempotencyStoreSuite {

    @Override
    protected Map<String, String> newStoreConfig() {
        String schema = Postgres.createSchema();
        return Map.of("url", Postgres.url(schema), "schema", schema);
    }

    @Override
    protected void dropStore(Map<String, String> config) {
        Postgres.dropSchema(config.get("schema"));
    }
}
