package io.courier.redis;

import io.courier.CourierException;
import io.courier.IdempotencyStore;
import io.courier.redis.internal.IdempotencyScripts;
import io.courier.redis.internal.RedisConnector;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An {@link IdempotencyStore} in Redis, shared by every process that uses the same Redis database and
 * key prefix: the store for {@link io.courier.middleware.IdempotencyMiddleware} when consumers run in
 * several processes or must remember across restarts what they processed, whatever transport delivers
 * the messages (Kafka, RabbitMQ, Redis Streams).
 *
 * <pre>{@code
 * try (RedisIdempotencyStore store = RedisIdempotencyStore.create(
 *         RedisConfig.builder().uri("redis://cache:6379").build())) {
 *     router.use(IdempotencyMiddleware.builder(store)
 *         .lease(Duration.ofMinutes(1))
 *         .retention(Duration.ofDays(1))
 *         .build());
 *     ...
 * }
 * }</pre>
 *
 * <p><b>How.</b> Each idempotency key is one Redis string {@code <key prefix><key>} (default prefix
 * {@link RedisConfig#keyPrefix()} followed by {@value #DEFAULT_KEY_PREFIX_SUFFIX}, e.g.
 * {@code courier:idempotency:billing:orders:7f3c}) holding {@code P:<token>} while a handler runs and
 * {@code D:<token>} once done. Its expiry ({@code PX}) is the lease, then the retention, so Redis's
 * clock measures both (clock skew between consumers does not matter) and Redis deletes expired keys
 * itself. Claim, complete and release are each one Lua script, atomic with respect to every other
 * client: of any number of concurrent claimers exactly one acquires a key, and complete or release
 * with a token that no longer holds the key changes nothing.
 *
 * <p><b>Durability.</b> The keys are as durable as Redis's persistence: after a Redis crash without
 * {@code appendonly yes}, recently completed keys may be forgotten and a duplicate arriving then runs
 * the handler again. Keys need memory until they expire: about 100 bytes each, times the messages of
 * one retention period.
 *
 * <p>Thread-safe. A store from {@link #create} or {@link #builder} owns its connection and must be
 * closed; one from {@link #of(RedisStreamsTransport)} shares the transport's and lives as long as it.
 */
public final class RedisIdempotencyStore implements IdempotencyStore, AutoCloseable {

    /** What the default key prefix adds to {@link RedisConfig#keyPrefix()}. */
    public static final String DEFAULT_KEY_PREFIX_SUFFIX = "idempotency:";

    private final IdempotencyScripts scripts;
    private final RedisAsyncCommands<byte[], byte[]> redis;
    private final Duration timeout;
    private final RedisConnector connector;                       // null when the connection is borrowed
    private final StatefulRedisConnection<byte[], byte[]> connection;
    private final AtomicBoolean closed = new AtomicBoolean();

    private RedisIdempotencyStore(String keyPrefix, StatefulRedisConnection<byte[], byte[]> connection,
                                  Duration commandTimeout, RedisConnector connector) {
        this.scripts = new IdempotencyScripts(keyPrefix);
        this.connection = connection;
        this.redis = connection.async();
        this.timeout = commandTimeout.multipliedBy(2);
        this.connector = connector;
    }

    /**
     * Connects to Redis as {@code config} says, with keys under {@code config.keyPrefix() + "idempotency:"}.
     *
     * @throws CourierException if Redis cannot be reached or refuses the credentials
     */
    public static RedisIdempotencyStore create(RedisConfig config) {
        return builder(config).build();
    }

    /** A builder connecting as {@code config} says (address, credentials, TLS, command timeout). */
    public static Builder builder(RedisConfig config) {
        return new Builder(config);
    }

    /**
     * A store on the connection of {@code transport}, with keys under its key prefix followed by
     * {@value #DEFAULT_KEY_PREFIX_SUFFIX}. It needs no closing of its own (its {@link #close()} does
     * nothing) and fails once the transport is closed.
     */
    public static RedisIdempotencyStore of(RedisStreamsTransport transport) {
        Objects.requireNonNull(transport, "transport");
        return new RedisIdempotencyStore(transport.config().keyPrefix() + DEFAULT_KEY_PREFIX_SUFFIX,
                transport.controlConnection(), transport.config().commandTimeout(), null);
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code key} is blank or {@code lease} not positive
     * @throws CourierException          if Redis fails or does not answer within twice the command timeout
     */
    @Override
    public Claim tryClaim(String key, Duration lease) {
        IdempotencyStore.requireValidKey(key);
        IdempotencyStore.requirePositive(lease, "lease");
        return await("claiming", key, scripts.claim(redis, key, UUID.randomUUID().toString(), lease));
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code key} is blank or {@code retention} not positive
     * @throws CourierException          if Redis fails or does not answer within twice the command timeout
     */
    @Override
    public boolean complete(String key, String token, Duration retention) {
        IdempotencyStore.requireValidKey(key);
        Objects.requireNonNull(token, "token");
        IdempotencyStore.requirePositive(retention, "retention");
        return await("completing", key, scripts.complete(redis, key, token, retention));
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code key} is blank
     * @throws CourierException          if Redis fails or does not answer within twice the command timeout
     */
    @Override
    public boolean release(String key, String token) {
        IdempotencyStore.requireValidKey(key);
        Objects.requireNonNull(token, "token");
        return await("releasing", key, scripts.release(redis, key, token));
    }

    /** The Redis key that holds idempotency key {@code key}, for inspection. */
    public String redisKey(String key) {
        return scripts.redisKey(IdempotencyStore.requireValidKey(key));
    }

    private <T> T await(String action, String key, CompletableFuture<T> reply) {
        try {
            return reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new CourierException(action + " idempotency key '" + key + "' in Redis failed: " + cause.getMessage(), cause);
        } catch (TimeoutException e) {
            reply.cancel(false);
            throw new CourierException(action + " idempotency key '" + key + "' in Redis failed: no reply within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CourierException("interrupted while " + action + " idempotency key '" + key + "' in Redis", e);
        }
    }

    /** Closes the connection if this store opened it; does nothing otherwise. Idempotent. */
    @Override
    public void close() {
        if (connector != null && closed.compareAndSet(false, true)) {
            connection.close();
            connector.close();
        }
    }

    /** Builds a {@link RedisIdempotencyStore} with a connection of its own. Not thread-safe. */
    public static final class Builder {
        private final RedisConfig config;
        private String keyPrefix;

        private Builder(RedisConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            this.keyPrefix = config.keyPrefix() + DEFAULT_KEY_PREFIX_SUFFIX;
        }

        /**
         * Prefix of every key the store writes (default {@link RedisConfig#keyPrefix()} followed by
         * {@value RedisIdempotencyStore#DEFAULT_KEY_PREFIX_SUFFIX}). Stores with different prefixes are
         * fully separate.
         *
         * @throws IllegalArgumentException if empty
         */
        public Builder keyPrefix(String keyPrefix) {
            Objects.requireNonNull(keyPrefix, "keyPrefix");
            if (keyPrefix.isEmpty()) {
                throw new IllegalArgumentException("keyPrefix must not be empty, but was ''");
            }
            this.keyPrefix = keyPrefix;
            return this;
        }

        /**
         * Connects and returns the store; close it when done.
         *
         * @throws CourierException if Redis cannot be reached or refuses the credentials
         */
        public RedisIdempotencyStore build() {
            RedisConnector connector = new RedisConnector(config);
            try {
                return new RedisIdempotencyStore(keyPrefix, connector.connect(), config.commandTimeout(), connector);
            } catch (RuntimeException e) {
                connector.close();
                throw e;
            }
        }
    }
}
