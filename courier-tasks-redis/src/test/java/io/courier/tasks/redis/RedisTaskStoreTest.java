package io.courier.tasks.redis;

import io.courier.testkit.tasks.TaskStoreConformanceSuite;
import io.courier.testkit.tasks.TaskStoreFactory;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.Map;
import java.util.UUID;

/** The task-store conformance suite on Redis (127.0.0.1:6379), one fresh key prefix per test, its keys deleted after. */
class RedisTaskStoreTest extends TaskStoreConformanceSuite {

    /** The Redis server the tests use. */
    static final String URI = "redis://127.0.0.1:6379/0";

    /** Opens the key prefix {@code config.prefix}; loaded by name in the SIGKILL test's child JVM. */
    public static final class Factory implements TaskStoreFactory {
        @Override
        public RedisTaskStore open(Map<String, String> config) {
            return RedisTaskStore.connect(URI, config.get("prefix"));
        }
    }

    @Override
    protected Map<String, String> newStoreConfig() {
        return Map.of("prefix", "courier-test:" + UUID.randomUUID().toString().substring(0, 12));
    }

    /** The same Redis database, keys under {@code <prefix>-other}. */
    @Override
    protected Map<String, String> otherPrefixConfig(Map<String, String> config) {
        return Map.of("prefix", config.get("prefix") + "-other");
    }

    @Override
    protected Class<Factory> storeFactory() {
        return Factory.class;
    }

    @Override
    protected void dropStore(Map<String, String> config) {
        RedisClient client = RedisClient.create(URI);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            ScanCursor cursor = ScanCursor.INITIAL;
            do {
                KeyScanCursor<String> page = c.sync().scan(cursor, ScanArgs.Builder.matches(config.get("prefix") + ":*").limit(500));
                if (!page.getKeys().isEmpty()) {
                    c.sync().del(page.getKeys().toArray(new String[0]));
                }
                cursor = page;
            } while (!cursor.isFinished());
        } finally {
            client.shutdown();
        }
    }
}
