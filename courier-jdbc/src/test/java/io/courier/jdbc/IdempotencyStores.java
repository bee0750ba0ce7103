package io.courier.jdbc;

import io.courier.IdempotencyStore;
import io.courier.testkit.idempotency.IdempotencyStoreFactory;
import java.nio.file.Path;
import java.util.Map;

/**
 * Opens a standalone {@link JdbcIdempotencyStore} for the idempotency-store suite, in the test's JVM and
 * in its child JVMs: config {@code file} (SQLite) or {@code url} (PostgreSQL).
 */
public final class IdempotencyStores implements IdempotencyStoreFactory {

    /** Used by the child JVMs. */
    public IdempotencyStores() {
    }

    @Override
    public IdempotencyStore open(Map<String, String> config) {
        return JdbcIdempotencyStore.open(config.containsKey("file")
                ? JdbcTransport.sqlite(Path.of(config.get("file")))
                : JdbcTransport.postgres(config.get("url"), Postgres.USER, ""));
    }
}
