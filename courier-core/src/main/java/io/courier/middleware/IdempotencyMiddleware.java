package io.courier.middleware;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.IdempotencyStore;
import io.courier.IdempotencyStore.Claim;
import io.courier.Middleware;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a handler run at most once per message, consumer group and topic, although delivery is
 * at-least-once: duplicates (a redelivery after a lost acknowledgement, a message published twice
 * with the same id, two consumers racing on one message) are recognised and acknowledged without
 * running the handler again.
 *
 * <pre>{@code
 * IdempotencyStore store = new InMemoryIdempotencyStore();      // one process; shared: RedisIdempotencyStore, JdbcIdempotencyStore
 * router.use(IdempotencyMiddleware.builder(store)
 *     .lease(Duration.ofMinutes(1))                             // longer than the slowest handler
 *     .retention(Duration.ofDays(1))                            // how long duplicates are recognised
 *     .build());
 * }</pre>
 *
 * <p>For each delivery it {@linkplain IdempotencyStore#tryClaim atomically claims} the key (by default
 * {@code group:topic:messageId}, see {@link #defaultKey}: every group processes a message once per
 * topic, so one id published on two topics a group consumes runs both handlers):
 * <ul>
 *   <li>{@link Claim.Acquired}: runs the handler. If it returns normally (and did not ask for a retry
 *       and was not dead-lettered) the key is {@linkplain IdempotencyStore#complete completed} for the
 *       retention; otherwise it is {@linkplain IdempotencyStore#release released} so the next delivery
 *       runs the handler again, and the failure is rethrown.</li>
 *   <li>{@link Claim.AlreadyDone}: returns normally without running the handler: the duplicate is acked.</li>
 *   <li>{@link Claim.InProgress}: another delivery of the same message is running right now. This one
 *       is neither run nor acked: it asks for a {@linkplain Delivery#retryAfter retry} after the
 *       holder's remaining lease, but at least {@value #MIN_IN_PROGRESS_RETRY_MILLIS} ms and at most
 *       {@value #MAX_IN_PROGRESS_RETRY_MILLIS} ms (or the fixed {@link Builder#inProgressRetryDelay delay}
 *       you set), and returns. When it looks again the holder has usually finished
 *       (the duplicate is acked as done) or failed (the duplicate runs), or died (its lease expired
 *       and the duplicate takes over).</li>
 * </ul>
 * Each in-progress retry is a redelivery and so raises {@link Delivery#attempt()}.
 *
 * <p>If the store fails to record completion after the handler succeeded, the failure is logged and
 * the message acknowledged anyway: throwing would make the message be redelivered and, once the lease
 * expired, processed a second time for sure, which is what this middleware exists to prevent.
 * The claim then lapses after its lease, and a later duplicate would be processed again.
 *
 * <p>With a SQL store, make the claim part of the handler's own transaction (the idempotent inbox) to
 * get exactly-once effects on the database; this middleware gives at-most-once handler runs between
 * retention-bounded duplicates. Put it inside {@link RetryMiddleware} and {@link TimeoutMiddleware}
 * (the lease should exceed the timeout). Immutable and thread-safe.
 */
public final class IdempotencyMiddleware implements Middleware {

    /** Default {@link Builder#lease lease}: 1 minute. */
    public static final Duration DEFAULT_LEASE = Duration.ofMinutes(1);
    /** Default {@link Builder#retention retention}: 24 hours. */
    public static final Duration DEFAULT_RETENTION = Duration.ofHours(24);
    /** Shortest delay before an in-progress duplicate is looked at again, in milliseconds. */
    public static final long MIN_IN_PROGRESS_RETRY_MILLIS = 100;
    /** Longest default wait before an in-progress duplicate is looked at again, in milliseconds. */
    public static final long MAX_IN_PROGRESS_RETRY_MILLIS = 1_000;

    private static final Logger log = LoggerFactory.getLogger(IdempotencyMiddleware.class);
    private static final Duration MIN_IN_PROGRESS_RETRY = Duration.ofMillis(MIN_IN_PROGRESS_RETRY_MILLIS);
    private static final Duration MAX_IN_PROGRESS_RETRY = Duration.ofMillis(MAX_IN_PROGRESS_RETRY_MILLIS);

    private final IdempotencyStore store;
    private final Duration lease;
    private final Duration retention;
    private final Function<Delivery, String> keyFunction;
    private final Duration inProgressRetryDelay;   // null: the holder's remaining lease

    /** Idempotency with {@code store} and every default: 1 min lease, 24 h retention, key {@code group:topic:messageId}. */
    public IdempotencyMiddleware(IdempotencyStore store) {
        this(builder(store));
    }

    private IdempotencyMiddleware(Builder b) {
        this.store = b.store;
        this.lease = b.lease;
        this.retention = b.retention;
        this.keyFunction = b.keyFunction;
        this.inProgressRetryDelay = b.inProgressRetryDelay;
    }

    /** A builder over {@code store}, starting from the defaults. */
    public static Builder builder(IdempotencyStore store) {
        return new Builder(store);
    }

    /**
     * The default key: {@code group:topic:messageId}, scoped by consumer group and topic, so that a
     * message id is claimed once per group and topic (the same id on two topics of one group, such as
     * a message and its dead-letter copy, is two keys). A {@code :} or {@code \\} inside the group or
     * topic name is escaped with a {@code \\}, so different (group, topic) pairs never share a key;
     * names without them appear as they are, e.g. {@code billing:orders:7f3c}.
     */
    public static String defaultKey(Delivery delivery) {
        return defaultScope(delivery) + ":" + delivery.message().id();
    }

    /**
     * The default scope of a claim, {@code group:topic} (escaped as in {@link #defaultKey}): the part of
     * the default key before the message id, also the default scope of the SQL transport's
     * idempotent handler.
     */
    public static String defaultScope(Delivery delivery) {
        return escape(delivery.group()) + ":" + escape(delivery.topic());
    }

    private static String escape(String name) {
        if (name.indexOf(':') < 0 && name.indexOf('\\') < 0) {
            return name;
        }
        return name.replace("\\", "\\\\").replace(":", "\\:");
    }

    @Override
    public Handler wrap(Handler next) {
        Objects.requireNonNull(next, "next");
        return delivery -> {
            String key = keyFunction.apply(delivery);
            if (key == null || key.isBlank()) {
                throw new IllegalStateException("idempotency key function returned '" + key + "' for "
                        + Failures.describe(delivery) + "; it must return a non-blank key");
            }
            Claim claim = store.tryClaim(key, lease);
            if (claim instanceof Claim.Acquired acquired) {
                runClaimed(next, delivery, key, acquired.token());
            } else if (claim instanceof Claim.InProgress inProgress) {
                Duration delay = inProgressRetryDelay != null ? inProgressRetryDelay
                        : min(max(inProgress.leaseRemaining(), MIN_IN_PROGRESS_RETRY), MAX_IN_PROGRESS_RETRY);
                log.debug("{} is being handled by another delivery (key {}); looking again in {}",
                        Failures.describe(delivery), key, delay);
                delivery.retryAfter(delay, Map.of());
            } else if (claim instanceof Claim.AlreadyDone) {
                log.debug("{} was already handled (key {}); acknowledging the duplicate", Failures.describe(delivery), key);
            } else {
                throw new IllegalStateException("idempotency store " + store.getClass().getName()
                        + " returned " + claim + " from tryClaim; expected Acquired, InProgress or AlreadyDone");
            }
        };
    }

    private void runClaimed(Handler next, Delivery delivery, String key, String token) throws Exception {
        try {
            next.handle(delivery);
        } catch (Exception | Error e) {
            releaseAfterFailure(key, token, e);
            throw e;
        }
        if (delivery.retryRequest().isPresent() || delivery.deadLettered().isPresent()) {
            // not done: it will be (re)processed later, by a retry or a replay from the dead-letter topic
            store.release(key, token);
            return;
        }
        try {
            if (!store.complete(key, token, retention)) {
                log.warn("{}: the idempotency claim on key {} had expired and was taken over before the handler "
                        + "finished (lease {} too short?); the message may be processed twice", Failures.describe(delivery), key, lease);
            }
        } catch (RuntimeException e) {
            log.error("{} was handled but the idempotency store could not record it (key {}); acknowledging anyway, "
                    + "a duplicate arriving after the lease of {} would be processed again", Failures.describe(delivery), key, lease, e);
        }
    }

    private void releaseAfterFailure(String key, String token, Throwable failure) {
        try {
            store.release(key, token);
        } catch (RuntimeException releaseFailure) {
            failure.addSuppressed(releaseFailure);   // the claim lapses after its lease instead
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** Builds an {@link IdempotencyMiddleware}. Not thread-safe. */
    public static final class Builder {
        private final IdempotencyStore store;
        private Duration lease = DEFAULT_LEASE;
        private Duration retention = DEFAULT_RETENTION;
        private Function<Delivery, String> keyFunction = IdempotencyMiddleware::defaultKey;
        private Duration inProgressRetryDelay;

        private Builder(IdempotencyStore store) {
            this.store = Objects.requireNonNull(store, "store");
        }

        /**
         * How long a claim holds while the handler runs (default 1 min). Make it longer than the
         * slowest handler: a claim that expires mid-handler lets a duplicate run concurrently.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder lease(Duration lease) {
            this.lease = requirePositive(lease, "lease");
            return this;
        }

        /**
         * How long a processed message is remembered (default 24 h); duplicates arriving later are
         * processed again.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder retention(Duration retention) {
            this.retention = requirePositive(retention, "retention");
            return this;
        }

        /** The key per delivery (default {@link IdempotencyMiddleware#defaultKey}, {@code group:topic:messageId}); must not return null or blank. */
        public Builder keyFunction(Function<Delivery, String> keyFunction) {
            this.keyFunction = Objects.requireNonNull(keyFunction, "keyFunction");
            return this;
        }

        /**
         * A fixed delay before an in-progress duplicate is looked at again (default: the holder's
         * remaining lease, between {@value #MIN_IN_PROGRESS_RETRY_MILLIS} and
         * {@value #MAX_IN_PROGRESS_RETRY_MILLIS} ms).
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder inProgressRetryDelay(Duration delay) {
            Objects.requireNonNull(delay, "inProgressRetryDelay");
            if (delay.isNegative()) {
                throw new IllegalArgumentException("inProgressRetryDelay must be >= 0, but was " + delay);
            }
            this.inProgressRetryDelay = delay;
            return this;
        }

        /** Builds the middleware. */
        public IdempotencyMiddleware build() {
            return new IdempotencyMiddleware(this);
        }

        private static Duration requirePositive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(what + " must be > 0, but was " + d);
            }
            return d;
        }
    }
}
