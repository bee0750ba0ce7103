package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.IdempotencyStore;
import io.courier.IdempotencyStore.Claim;
import io.courier.testkit.idempotency.IdempotencyStoreConformanceSuite;
import io.courier.testkit.idempotency.IdempotencyStoreFactory;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * {@link RedisIdempotencyStore} against the idempotency-store conformance suite (a fresh key prefix
 * per test, its keys deleted after it), plus what is Redis-specific: key names and expiry.
 */
class RedisIdempotencyStoreTest extends IdempotencyStoreConformanceSuite {

    /** Opens a store with config {@code prefix}; used by the child JVMs too. */
    public static final class RedisStores implements IdempotencyStoreFactory {
        @Override
        public IdempotencyStore open(Map<String, String> config) {
            return RedisIdempotencyStore.builder(RedisConfig.builder().uri(RedisTestSupport.REDIS_URI).build())
                    .keyPrefix(config.get("prefix"))
                    .build();
        }
    }

    @Override
    protected Map<String, String> newStoreConfig() {
        return Map.of("prefix", "courier-test:" + UUID.randomUUID().toString().substring(0, 8) + ":idem:");
    }

    @Override
    protected Class<? extends IdempotencyStoreFactory> storeFactory() {
        return RedisStores.class;
    }

    @Override
    protected boolean sharedAcrossProcesses() {
        return true;
    }

    @Override
    protected void dropStore(Map<String, String> config) {
        RedisClient client = RedisClient.create(RedisTestSupport.REDIS_URI);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            RedisTestSupport.deleteKeys(c.sync(), config.get("prefix"));
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
    }

    @Test
    void keysLiveUnderThePrefixWithTheLeaseThenTheRetentionAsTheirRedisExpiry() {
        RedisIdempotencyStore redisStore = (RedisIdempotencyStore) store;
        String key = "billing:orders:" + UUID.randomUUID();
        String redisKey = redisStore.redisKey(key);
        RedisClient client = RedisClient.create(RedisTestSupport.REDIS_URI);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            String token = ((Claim.Acquired) store.tryClaim(key, Duration.ofMinutes(1))).token();
            assertThat(redisKey).endsWith(":idem:" + key);
            assertThat(c.sync().get(redisKey)).isEqualTo("P:" + token);
            assertThat(c.sync().pttl(redisKey)).isBetween(1L, 60_000L);

            store.complete(key, token, Duration.ofHours(2));

            assertThat(c.sync().get(redisKey)).isEqualTo("D:" + token);
            assertThat(c.sync().pttl(redisKey)).isBetween(60_001L, 7_200_000L);
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
    }

    @Test
    void defaultPrefixFollowsTheConfigsAndAStoreOfATransportSharesItsConnection() {
        String prefix = "courier-test:" + UUID.randomUUID().toString().substring(0, 8) + ":";
        RedisConfig config = RedisConfig.builder().uri(RedisTestSupport.REDIS_URI).keyPrefix(prefix).build();
        try (RedisStreamsTransport transport = RedisStreamsTransport.create(config);
             RedisIdempotencyStore own = RedisIdempotencyStore.create(config)) {
            RedisIdempotencyStore shared = RedisIdempotencyStore.of(transport);
            assertThat(own.redisKey("k")).isEqualTo(prefix + "idempotency:k");
            assertThat(shared.redisKey("k")).isEqualTo(prefix + "idempotency:k");

            assertThat(shared.tryClaim("k", Duration.ofMinutes(1))).isInstanceOf(Claim.Acquired.class);
            assertThat(own.tryClaim("k", Duration.ofMinutes(1))).isInstanceOf(Claim.InProgress.class);
        } finally {
            dropStore(Map.of("prefix", prefix));
        }
        assertThatThrownBy(() -> RedisIdempotencyStore.builder(RedisConfig.defaults()).keyPrefix(""))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("keyPrefix must not be empty, but was ''");
    }
}
