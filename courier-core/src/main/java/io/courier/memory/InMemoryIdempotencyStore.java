package io.courier.memory;

import io.courier.IdempotencyStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An {@link IdempotencyStore} in this JVM's memory: for tests and single-process use. Nothing
 * survives a restart and nothing is shared between processes; use a Redis or SQL store
 * ({@code RedisIdempotencyStore} in courier-redis, {@code JdbcIdempotencyStore} in courier-jdbc) when
 * several processes consume the same topic.
 *
 * <p>Every operation is one {@link ConcurrentHashMap#compute} on the key, so claims are atomic.
 * Leases and retention are measured with the injected {@link Clock} (tests advance a fake one instead
 * of sleeping). Expired entries are removed lazily: when their key is touched, and by a sweep over
 * the whole map every {@value #SWEEP_EVERY} claims (or on {@link #purgeExpired()}). Thread-safe.
 */
public final class InMemoryIdempotencyStore implements IdempotencyStore {

    /** Number of claims between two sweeps of expired entries. */
    public static final int SWEEP_EVERY = 1024;

    private enum State { IN_PROGRESS, DONE }

    private record Entry(State state, String token, Instant expiresAt) {
        boolean expiredAt(Instant now) {
            return !expiresAt.isAfter(now);
        }
    }

    private final Clock clock;
    private final ConcurrentHashMap<String, Entry> entries = new ConcurrentHashMap<>();
    private final AtomicInteger claimsSinceSweep = new AtomicInteger();

    /** A store measuring time with the system clock. */
    public InMemoryIdempotencyStore() {
        this(Clock.systemUTC());
    }

    /** A store measuring leases and retention with {@code clock}. */
    public InMemoryIdempotencyStore(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public Claim tryClaim(String key, Duration lease) {
        IdempotencyStore.requireValidKey(key);
        IdempotencyStore.requirePositive(lease, "lease");
        if (claimsSinceSweep.incrementAndGet() >= SWEEP_EVERY) {
            claimsSinceSweep.set(0);
            purgeExpired();
        }
        Instant now = clock.instant();
        Claim[] result = new Claim[1];
        entries.compute(key, (k, existing) -> {
            if (existing == null || existing.expiredAt(now)) {
                String token = UUID.randomUUID().toString();
                result[0] = new Claim.Acquired(token);
                return new Entry(State.IN_PROGRESS, token, now.plus(lease));
            }
            result[0] = existing.state() == State.DONE
                    ? new Claim.AlreadyDone()
                    : new Claim.InProgress(Duration.between(now, existing.expiresAt()));
            return existing;
        });
        return result[0];
    }

    @Override
    public boolean complete(String key, String token, Duration retention) {
        IdempotencyStore.requireValidKey(key);
        Objects.requireNonNull(token, "token");
        IdempotencyStore.requirePositive(retention, "retention");
        Instant now = clock.instant();
        boolean[] done = new boolean[1];
        entries.compute(key, (k, existing) -> {
            // An expired lease still proves ownership if nobody claimed the key since; an absent entry
            // (swept after expiry) was not claimed by anyone else either.
            if (existing == null || (existing.state() == State.IN_PROGRESS && existing.token().equals(token))) {
                done[0] = true;
                return new Entry(State.DONE, token, now.plus(retention));
            }
            done[0] = existing.state() == State.DONE && existing.token().equals(token);   // completed twice
            return existing;
        });
        return done[0];
    }

    @Override
    public boolean release(String key, String token) {
        IdempotencyStore.requireValidKey(key);
        Objects.requireNonNull(token, "token");
        boolean[] released = new boolean[1];
        entries.computeIfPresent(key, (k, existing) -> {
            if (existing.state() == State.IN_PROGRESS && existing.token().equals(token)) {
                released[0] = true;
                return null;
            }
            return existing;
        });
        return released[0];
    }

    /** Removes every entry whose lease or retention has expired; returns how many were removed. */
    public int purgeExpired() {
        Instant now = clock.instant();
        int[] removed = new int[1];
        entries.forEach((key, entry) -> {
            if (entry.expiredAt(now) && entries.remove(key, entry)) {
                removed[0]++;
            }
        });
        return removed[0];
    }

    /** Entries held, in progress or done, including expired ones not yet removed. */
    public int size() {
        return entries.size();
    }
}
