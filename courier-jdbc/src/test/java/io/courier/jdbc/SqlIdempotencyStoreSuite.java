package io.courier.jdbc;

import io.courier.testkit.idempotency.IdempotencyStoreConformanceSuite;
import io.courier.testkit.idempotency.IdempotencyStoreFactory;

/** The idempotency-store suite for standalone {@link JdbcIdempotencyStore}s, shared between processes. */
abstract class SqlIdempotencyStoreSuite extends IdempotencyStoreConformanceSuite {

    @Override
    protected Class<? extends IdempotencyStoreFactory> storeFactory() {
        return IdempotencyStores.class;
    }

    @Override
    protected boolean sharedAcrossProcesses() {
        return true;
    }
}
