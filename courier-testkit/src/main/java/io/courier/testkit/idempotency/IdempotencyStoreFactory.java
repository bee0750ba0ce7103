package io.courier.testkit.idempotency;

import io.courier.IdempotencyStore;
import java.util.Map;

/**
 * Opens an idempotency store, both in the test's JVM and in the child JVMs of the
 * {@link IdempotencyStoreConformanceSuite}'s multi-process tests, so that all of them reach the same keys.
 *
 * <p>Implementations live in the store's test code, are public and have a public no-argument
 * constructor: a child JVM loads them by class name. Everything needed to reach the store (a file, a
 * table prefix, a key prefix) comes in {@code config}, the map
 * {@link IdempotencyStoreConformanceSuite#newStoreConfig()} returned.
 *
 * <pre>{@code
 * public final class RedisStores implements IdempotencyStoreFactory {
 *     public IdempotencyStore open(Map<String, String> config) {
 *         return RedisIdempotencyStore.builder(RedisConfig.builder(config.get("uri")).build())
 *                 .keyPrefix(config.get("prefix")).build();
 *     }
 * }
 * }</pre>
 */
@FunctionalInterface
public interface IdempotencyStoreFactory {

    /**
     * Opens a store over the location described by {@code config}. If the store is
     * {@link AutoCloseable} the caller closes it.
     *
     * @param config the configuration of one test's store, never null
     * @throws Exception if the store cannot be opened (a child JVM then exits with an error)
     */
    IdempotencyStore open(Map<String, String> config) throws Exception;
}
