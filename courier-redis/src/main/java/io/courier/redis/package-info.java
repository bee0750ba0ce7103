/**
 * The Redis Streams transport: {@link io.courier.redis.RedisStreamsTransport}, configured by
 * {@link io.courier.redis.RedisConfig} with per-topic {@link io.courier.redis.StreamTrim trimming}.
 *
 * <p>Topics are streams, Courier groups are Redis consumer groups, entries left pending by a dead
 * consumer are reclaimed after the lease, entries delivered too often go to {@code <topic>.dlq},
 * and delayed messages and retries wait in sorted sets until an atomic script moves them onto
 * their stream. {@link io.courier.redis.RedisIdempotencyStore} is an {@link io.courier.IdempotencyStore}
 * in Redis for the idempotency middleware with any transport. {@code docs/transports/redis.md}
 * describes the guarantees and their limits.
 */
package io.courier.redis;
