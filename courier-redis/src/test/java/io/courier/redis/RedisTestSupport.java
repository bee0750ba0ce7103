package io.courier.redis;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Base of the tests against the Redis on 127.0.0.1:6379: a unique key prefix per test, a raw Lettuce
 * connection for assertions, transports closed and keys deleted after each test.
 */
abstract class RedisTestSupport {

    static final String REDIS_URI = "redis://127.0.0.1:6379";

    protected String prefix;
    protected RedisClient rawClient;
    protected RedisCommands<String, String> raw;
    private StatefulRedisConnection<String, String> rawConnection;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void connectRaw() {
        prefix = "courier-test:" + UUID.randomUUID().toString().substring(0, 8) + ":";
        rawClient = RedisClient.create(REDIS_URI);
        rawConnection = rawClient.connect();
        raw = rawConnection.sync();
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        deleteKeys(raw, prefix);
        rawConnection.close();
        rawClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }

    static void deleteKeys(RedisCommands<String, String> commands, String prefix) {
        ScanCursor cursor = ScanCursor.INITIAL;
        do {
            KeyScanCursor<String> page = commands.scan(cursor, ScanArgs.Builder.matches(prefix + "*").limit(500));
            if (!page.getKeys().isEmpty()) {
                commands.unlink(page.getKeys().toArray(new String[0]));
            }
            cursor = page;
        } while (!cursor.isFinished());
    }

    /** A config for this test's prefix with fast timings. */
    protected RedisConfig.Builder config() {
        return RedisConfig.builder()
                .uri(REDIS_URI)
                .keyPrefix(prefix)
                .claimInterval(Duration.ofMillis(200))
                .schedulerInterval(Duration.ofMillis(50))
                .blockTimeout(Duration.ofMillis(500));
    }

    /** A transport closed after the test. */
    protected RedisStreamsTransport transport(RedisConfig config) {
        return closeLater(RedisStreamsTransport.create(config));
    }

    protected RedisStreamsTransport transport() {
        return transport(config().build());
    }

    protected <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }

    protected String stream(String topic) {
        return prefix + "{" + topic + "}";
    }
}
