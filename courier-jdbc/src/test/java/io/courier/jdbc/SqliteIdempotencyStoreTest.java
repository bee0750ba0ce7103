package io.courier.jdbc;

import java.nio.file.Path;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.io.TempDir;

/** {@link JdbcIdempotencyStore} on SQLite against the idempotency-store conformance suite. */
class SqliteIdempotencyStoreTest extends SqlIdempotencyStoreSuite {

    @TempDir
    Path dir;

    @Override
    protected Map<String, String> newStoreConfig() {
        return Map.of("file", dir.resolve("idempotency-" + UUID.randomUUID() + ".db").toString());
    }
}
