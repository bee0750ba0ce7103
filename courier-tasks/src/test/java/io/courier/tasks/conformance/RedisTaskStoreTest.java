package io.courier.tasks.conformance;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.List;
import java.util.UUID;

/** The conformance suite on Redis (127.0.0.1:6379), one fresh key prefix per test, its keys deleted after. */
class RedisTaskStoreTest extends TaskStoreConformanceTest {

    @Override
    protected List<String> newStoreSpec() {
        return List.of("redis", "courier-test:" + UUID.randomUUID().toString().substring(0, 12));
    }

    @Override
    protected void dropStore(List<String> spec) {
        RedisClient client = RedisClient.create(TestStores.REDIS_URI);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            ScanCursor cursor = ScanCursor.INITIAL;
            do {
                KeyScanCursor<String> page = c.sync().scan(cursor, ScanArgs.Builder.matches(spec.get(1) + ":*").limit(500));
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
