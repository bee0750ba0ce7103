package io.courier.jdbc;

import io.courier.IdempotencyStore;
import io.courier.testkit.idempotency.IdempotencyStoreFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Opens a {@link JdbcIdempotencyStore} over a transport of its own for the idempotency-store suite,
 * in the test's JVM and in its child JVMs: config {@code file} (SQLite) or {@code url} (PostgreSQL).
 * Closing the store closes the transport.
 */
public final class IdempotencyStores implements IdempotencyStoreFactory {

    /** Used by the child JVMs. */
    public IdempotencyStores() {
    }

    @Override
    public IdempotencyStore open(Map<String, String> config) {
        JdbcTransport transport = config.containsKey("file")
                ? JdbcTransport.sqlite(Path.of(config.get("file"))).build()
                : JdbcTransport.postgres(config.get("url"), Postgres.USER, "").build();
        return new Owning(JdbcIdempotencyStore.of(transport), transport);
    }

    private record Owning(JdbcIdempotencyStore store, JdbcTransport transport) implements IdempotencyStore, AutoCloseable {
        @Override
        public Claim tryClaim(String key, Duration lease) {
            return store.tryClaim(key, lease);
        }

        @Override
        public boolean complete(String key, String token, Duration retention) {
            return store.complete(key, token, retention);
        }

        @Override
        public boolean release(String key, String token) {
            return store.release(key, token);
        }

        @Override
        public void close() {
            transport.close();
        }
    }
}
