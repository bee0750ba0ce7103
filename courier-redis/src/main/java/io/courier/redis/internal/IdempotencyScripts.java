package io.courier.redis.internal;

import io.courier.IdempotencyStore.Claim;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The Redis side of the idempotency store: one string key per idempotency key, holding
 * {@code P:<token>} while in progress and {@code D:<token>} once done, with the lease or the retention
 * as its expiry ({@code PX}), so Redis's own clock runs leases and retention and Redis deletes expired
 * keys by itself. Each operation is one Lua script, atomic with respect to every other client.
 * Thread-safe.
 */
public final class IdempotencyScripts {

    /** New or expired key: ours, with the lease. Otherwise report what holds it. */
    private static final LuaScript CLAIM = new LuaScript("idempotency-claim", """
            local v = redis.call('GET', KEYS[1])
            if not v then
              redis.call('SET', KEYS[1], 'P:' .. ARGV[1], 'PX', ARGV[2])
              return {1, 0}
            end
            if string.sub(v, 1, 2) == 'D:' then
              return {2, 0}
            end
            return {3, math.max(redis.call('PTTL', KEYS[1]), 0)}
            """);

    /**
     * Done, if our token still holds the key; a key that expired with nobody claiming it since (it is
     * gone) still counts as ours, as in the in-memory store.
     */
    private static final LuaScript COMPLETE = new LuaScript("idempotency-complete", """
            local v = redis.call('GET', KEYS[1])
            if (not v) or v == 'P:' .. ARGV[1] or v == 'D:' .. ARGV[1] then
              redis.call('SET', KEYS[1], 'D:' .. ARGV[1], 'PX', ARGV[2])
              return 1
            end
            return 0
            """);

    private static final LuaScript RELEASE = new LuaScript("idempotency-release", """
            if redis.call('GET', KEYS[1]) == 'P:' .. ARGV[1] then
              redis.call('DEL', KEYS[1])
              return 1
            end
            return 0
            """);

    private final String keyPrefix;

    /** Scripts over keys {@code keyPrefix + key}. */
    public IdempotencyScripts(String keyPrefix) {
        this.keyPrefix = keyPrefix;
    }

    /** The Redis key of idempotency key {@code key}. */
    public String redisKey(String key) {
        return keyPrefix + key;
    }

    /** Claims {@code key} for {@code token}; see {@code IdempotencyStore.tryClaim}. */
    public CompletableFuture<Claim> claim(RedisAsyncCommands<byte[], byte[]> redis, String key, String token, Duration lease) {
        return CLAIM.<List<Object>>run(redis, ScriptOutputType.MULTI, keys(key), bytes(token), bytes(lease.toMillis()))
                .thenApply(reply -> {
                    long outcome = (Long) reply.get(0);
                    if (outcome == 1) {
                        return new Claim.Acquired(token);
                    }
                    return outcome == 2 ? new Claim.AlreadyDone() : new Claim.InProgress(Duration.ofMillis((Long) reply.get(1)));
                });
    }

    /** Marks {@code key} done for {@code retention} if {@code token} still holds it. */
    public CompletableFuture<Boolean> complete(RedisAsyncCommands<byte[], byte[]> redis, String key, String token,
                                               Duration retention) {
        return COMPLETE.<Long>run(redis, ScriptOutputType.INTEGER, keys(key), bytes(token), bytes(retention.toMillis()))
                .thenApply(n -> n == 1);
    }

    /** Deletes the in-progress claim of {@code key} if {@code token} holds it. */
    public CompletableFuture<Boolean> release(RedisAsyncCommands<byte[], byte[]> redis, String key, String token) {
        return RELEASE.<Long>run(redis, ScriptOutputType.INTEGER, keys(key), bytes(token)).thenApply(n -> n == 1);
    }

    private byte[][] keys(String key) {
        return new byte[][] {bytes(redisKey(key))};
    }

    private static byte[] bytes(String s) {
        return EntryCodec.bytes(s);
    }

    private static byte[] bytes(long n) {
        return EntryCodec.bytes(Long.toString(n));
    }
}
