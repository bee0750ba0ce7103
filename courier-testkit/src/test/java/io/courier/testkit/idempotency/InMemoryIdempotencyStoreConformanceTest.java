package io.courier.testkit.idempotency;

import io.courier.IdempotencyStore;
import io.courier.memory.InMemoryIdempotencyStore;
import java.util.Map;

/** The in-memory store against the idempotency-store conformance suite (one process only). */
class InMemoryIdempotencyStoreConformanceTest extends IdempotencyStoreConformanceSuite {

    /** Opens a new, empty in-memory store. */
    public static final class InMemoryStores implements IdempotencyStoreFactory {
        @Override
        public IdempotencyStore open(Map<String, String> config) {
            return new InMemoryIdempotencyStore();
        }
    }

    @Override
    protected Map<String, String> newStoreConfig() {
        return Map.of();
    }

    @Override
    protected Class<? extends IdempotencyStoreFactory> storeFactory() {
        return InMemoryStores.class;
    }
}
