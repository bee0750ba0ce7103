package io.courier;

import java.time.Duration;
import java.util.Objects;

/**
 * Remembers which messages were processed, for idempotent consumers: the storage behind
 * {@link io.courier.middleware.IdempotencyMiddleware}.
 *
 * <p><b>Atomic claims, never check-then-act.</b> "Was it processed? No? Then process it and mark it"
 * lets two concurrent deliveries of one message both pass the check and both run the handler. This
 * SPI has no separate check: {@link #tryClaim} decides and records in one atomic step (a
 * {@code ConcurrentHashMap.compute}, a Redis {@code SET NX PX}, an {@code INSERT ... ON CONFLICT}),
 * so among any number of concurrent callers for one key exactly one gets {@link Claim.Acquired}.
 *
 * <p><b>Life of a key.</b>
 * <pre>
 *   (absent) --tryClaim--> in progress (lease, token) --complete(token)--> done (retention) --expiry--> (absent)
 *                               |  \--release(token)------------------> (absent)
 *                               \---lease expires (holder died)-------> (absent)
 * </pre>
 * The lease bounds how long a crashed holder blocks the key; the retention bounds how long a done key
 * is remembered (duplicates arriving later are processed again). The token returned with a claim
 * proves ownership: {@link #complete} and {@link #release} with a token that no longer holds the key
 * (its lease expired and someone else claimed it) change nothing and return false.
 *
 * <p>Implementations must be thread-safe and, if shared between processes, atomic across them.
 * Times are measured by the store's own clock (the database's, Redis's) so that clock skew between
 * consumers cannot break the lease.
 */
public interface IdempotencyStore {

    /**
     * Atomically claims {@code key} for {@code lease} unless it is done or claimed by someone else.
     * An in-progress claim whose lease expired counts as absent: the caller takes it over.
     *
     * @param key   the key, e.g. {@code group + ":" + messageId}; not blank
     * @param lease how long the claim holds without {@link #complete} or {@link #release}; positive
     * @return {@link Claim.Acquired} with a fresh token when the caller now holds the key,
     *         {@link Claim.InProgress} when another holder's lease is still running,
     *         {@link Claim.AlreadyDone} when the key was completed and its retention has not expired
     */
    Claim tryClaim(String key, Duration lease);

    /**
     * Marks {@code key} done, remembered for {@code retention}, if {@code token} still holds it.
     *
     * @return true if the key is now done; false if the token no longer holds the key (nothing changed)
     */
    boolean complete(String key, String token, Duration retention);

    /**
     * Gives {@code key} up (processing failed), if {@code token} still holds it, so the next delivery
     * can claim it at once.
     *
     * @return true if the claim was released; false if the token no longer held the key
     */
    boolean release(String key, String token);

    /**
     * Checks a key as every implementation must: for use at the top of {@link #tryClaim},
     * {@link #complete} and {@link #release}.
     *
     * @return {@code key}
     * @throws NullPointerException     if {@code key} is null
     * @throws IllegalArgumentException if {@code key} is blank
     */
    static String requireValidKey(String key) {
        Objects.requireNonNull(key, "key");
        if (key.isBlank()) {
            throw new IllegalArgumentException("idempotency key must not be blank");
        }
        return key;
    }

    /**
     * Checks a lease or retention as every implementation must.
     *
     * @param what the parameter's name for the message, e.g. {@code "lease"}
     * @return {@code duration}
     * @throws NullPointerException     if {@code duration} is null
     * @throws IllegalArgumentException if {@code duration} is zero or negative
     */
    static Duration requirePositive(Duration duration, String what) {
        Objects.requireNonNull(duration, what);
        if (duration.isZero() || duration.isNegative()) {
            throw new IllegalArgumentException(what + " must be > 0, but was " + duration);
        }
        return duration;
    }

    /** The result of {@link #tryClaim}: a closed set of three cases. */
    sealed interface Claim permits Claim.Acquired, Claim.InProgress, Claim.AlreadyDone {

        /**
         * The caller holds the key and must {@link #complete} or {@link #release} it with {@code token}.
         *
         * @param token proof of ownership, unique per claim
         */
        record Acquired(String token) implements Claim {
            /** Validates. */
            public Acquired {
                Objects.requireNonNull(token, "token");
            }
        }

        /**
         * Someone else holds the key (a concurrent delivery of the same message).
         *
         * @param leaseRemaining how long the holder's lease still runs (by the store's clock); zero or more
         */
        record InProgress(Duration leaseRemaining) implements Claim {
            /** Validates. */
            public InProgress {
                Objects.requireNonNull(leaseRemaining, "leaseRemaining");
                if (leaseRemaining.isNegative()) {
                    leaseRemaining = Duration.ZERO;
                }
            }
        }

        /** The key was completed and is still remembered: the message was processed already. */
        record AlreadyDone() implements Claim {
        }
    }
}
