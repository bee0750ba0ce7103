package io.courier.middleware;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Middleware;
import io.courier.NonRetryableException;
import io.courier.spi.Settings;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;

/**
 * Retries failed deliveries with exponential backoff and full jitter, a bounded number of times.
 *
 * <pre>{@code
 * Router router = Router.builder(transport)
 *     .use(new RecoveryMiddleware())
 *     .use(DeadLetterMiddleware.to(transport.publisher()))     // receives what retry gives up on
 *     .use(RetryMiddleware.builder()
 *         .maxAttempts(5)
 *         .initialDelay(Duration.ofSeconds(1))
 *         .retryIf(e -> !(e instanceof IllegalArgumentException))
 *         .build())
 *     .build();
 * }</pre>
 *
 * <p><b>Backoff.</b> After attempt {@code n} fails, the next attempt waits a delay drawn uniformly
 * from {@code [0, cap(n)]} where {@code cap(n) = min(maxDelay, initialDelay * multiplier^(n-1))}
 * ("full jitter"), so consumers that failed together do not come back together. With
 * {@code jitter(false)} the delay is exactly {@code cap(n)}.
 *
 * <p><b>What is retried.</b> Any failure ({@link Exception} or {@link Error}) except:
 * <ul>
 *   <li>a {@link NonRetryableException} (such as {@code DecodingException}) thrown directly or found
 *       anywhere in the cause chain: retrying cannot help, so it is rethrown at once;</li>
 *   <li>a failure the {@link Builder#retryIf retryIf} predicate rejects (it sees the failure after
 *       {@link java.util.concurrent.CompletionException}/{@link java.util.concurrent.ExecutionException}
 *       wrappers are removed);</li>
 *   <li>an {@link InterruptedException}: the consumer is shutting down; the message is left
 *       unacknowledged and redelivered later, without counting as a retry.</li>
 * </ul>
 *
 * <p><b>Default mode: durable, non-blocking.</b> On a retryable failure with attempts left, the
 * middleware calls {@link Delivery#retryAfter(Duration, Map)} with the backoff and returns normally:
 * the transport redelivers the message later (durably, as attempt {@link Delivery#attempt()} + 1)
 * and meanwhile other messages keep flowing. The redelivered message carries
 * {@link Headers#FIRST_FAILURE_AT} (kept from the first failure), {@link Headers#LAST_FAILURE_AT},
 * {@link Headers#EXCEPTION_CLASS}, {@link Headers#EXCEPTION_MESSAGE} (at most 1,000 characters) and
 * {@link Headers#ORIGINAL_TOPIC}, which the {@link DeadLetterMiddleware} reports if the message is
 * dead-lettered in the end. The attempt number is the transport's {@link Delivery#attempt()}, so it
 * counts every delivery, including redeliveries after a consumer crash. When
 * {@code attempt >= maxAttempts}, or the failure is not retryable, the failure is rethrown.
 *
 * <p><b>In-place mode</b> ({@code inPlace(true)}): on failure the middleware sleeps the backoff on
 * the consumer thread and calls the handler again, up to {@code maxAttempts} calls per delivery,
 * then rethrows the last failure. Nothing else from this consumer thread is handled meanwhile, so
 * the order of messages is kept (use it with key-ordered subscriptions), at the price of
 * throughput. The sleep is interruptible: an interrupt ends it with an {@link InterruptedException}
 * (the last failure attached as suppressed) and the message is redelivered later. In-place attempts
 * are not counted by the transport: {@link Delivery#attempt()} and the dead-letter
 * {@link Headers#ATTEMPTS} header count deliveries, not calls.
 *
 * <p>Immutable and thread-safe (if the injected random generator is; {@link java.util.Random} is).
 */
public final class RetryMiddleware implements Middleware {

    /** Default {@link Builder#maxAttempts(int) maxAttempts}: 5. */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;
    /** Default {@link Builder#initialDelay(Duration) initialDelay}: 1 second. */
    public static final Duration DEFAULT_INITIAL_DELAY = Duration.ofSeconds(1);
    /** Default {@link Builder#multiplier(double) multiplier}: 2.0. */
    public static final double DEFAULT_MULTIPLIER = 2.0;
    /** Default {@link Builder#maxDelay(Duration) maxDelay}: 5 minutes. */
    public static final Duration DEFAULT_MAX_DELAY = Duration.ofMinutes(5);

    private static final Predicate<Throwable> RETRY_ALL = e -> true;

    private final int maxAttempts;
    private final Duration initialDelay;
    private final double multiplier;
    private final Duration maxDelay;
    private final boolean jitter;
    private final Predicate<Throwable> retryIf;
    private final boolean inPlace;
    private final RandomGenerator random;   // null: ThreadLocalRandom of the calling thread
    private final Clock clock;

    private RetryMiddleware(Builder b) {
        this.maxAttempts = b.maxAttempts;
        this.initialDelay = b.initialDelay;
        this.multiplier = b.multiplier;
        this.maxDelay = b.maxDelay;
        this.jitter = b.jitter;
        this.retryIf = b.retryIf;
        this.inPlace = b.inPlace;
        this.random = b.random;
        this.clock = b.clock;
    }

    /** A retry middleware with every default: 5 attempts, 1 s initial delay, x2, at most 5 min, full jitter, not in place. */
    public static RetryMiddleware defaults() {
        return builder().build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this middleware's settings, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxAttempts = maxAttempts;
        b.initialDelay = initialDelay;
        b.multiplier = multiplier;
        b.maxDelay = maxDelay;
        b.jitter = jitter;
        b.retryIf = retryIf;
        b.inPlace = inPlace;
        b.random = random;
        b.clock = clock;
        return b;
    }

    /**
     * True when {@code error} may succeed on another attempt under this policy: it is not (and is not
     * caused by) a {@link NonRetryableException}, not an interruption, and the {@code retryIf}
     * predicate accepts it. Pass it to {@link DeadLetterMiddleware.Builder#nonRetryableIf} when you
     * set a custom predicate, so dead letters get the right reason.
     */
    public boolean isRetryable(Throwable error) {
        Objects.requireNonNull(error, "error");
        if (Failures.isNonRetryable(error) || Failures.isInterruption(error)) {
            return false;
        }
        return retryIf.test(Failures.unwrap(error));
    }

    /**
     * True when {@code error} is, or is caused by, a {@link NonRetryableException}: the default
     * classification used by every Courier middleware.
     */
    public static boolean isNonRetryable(Throwable error) {
        return Failures.isNonRetryable(Objects.requireNonNull(error, "error"));
    }

    /**
     * The most this policy waits after failed attempt {@code attempt} (1-based):
     * {@code min(maxDelay, initialDelay * multiplier^(attempt-1))}.
     *
     * @throws IllegalArgumentException if {@code attempt < 1}
     */
    public Duration backoffCap(int attempt) {
        return Duration.ofNanos(capNanos(attempt));
    }

    /**
     * The delay before the next attempt after failed attempt {@code attempt} (1-based): uniformly random
     * in {@code [0, backoffCap(attempt)]} with jitter, exactly {@code backoffCap(attempt)} without.
     *
     * @throws IllegalArgumentException if {@code attempt < 1}
     */
    public Duration delayFor(int attempt) {
        long cap = capNanos(attempt);
        if (!jitter || cap == 0) {
            return Duration.ofNanos(cap);
        }
        RandomGenerator rng = random != null ? random : ThreadLocalRandom.current();
        long drawn = cap == Long.MAX_VALUE ? rng.nextLong(0, cap) : rng.nextLong(0, cap + 1);
        return Duration.ofNanos(drawn);
    }

    private long capNanos(int attempt) {
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be >= 1, but was " + attempt);
        }
        long initial = saturatedNanos(initialDelay);
        long max = saturatedNanos(maxDelay);
        double grown = initial * Math.pow(multiplier, attempt - 1);
        return grown >= max ? max : (long) grown;   // also covers an infinite product
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }

    /** Attempts per message, counting the first (at least 1). */
    public int maxAttempts() {
        return maxAttempts;
    }

    /** The cap of the delay after the first failed attempt. */
    public Duration initialDelay() {
        return initialDelay;
    }

    /** Growth factor of the cap per attempt. */
    public double multiplier() {
        return multiplier;
    }

    /** Upper bound of every delay. */
    public Duration maxDelay() {
        return maxDelay;
    }

    /** Whether delays are drawn uniformly from {@code [0, cap]} (full jitter). */
    public boolean jitter() {
        return jitter;
    }

    /** Whether retries happen in place on the consumer thread (ordered) instead of by redelivery. */
    public boolean inPlace() {
        return inPlace;
    }

    @Override
    public Handler wrap(Handler next) {
        Objects.requireNonNull(next, "next");
        return inPlace ? d -> handleInPlace(next, d) : d -> handleByRedelivery(next, d);
    }

    private void handleByRedelivery(Handler next, Delivery delivery) throws Exception {
        try {
            next.handle(delivery);
        } catch (Exception | Error e) {
            if (delivery.attempt() >= maxAttempts || !isRetryable(e)) {
                throw e;
            }
            delivery.retryAfter(delayFor(delivery.attempt()), Failures.failureHeaders(delivery, e, clock.instant()));
        }
    }

    private void handleInPlace(Handler next, Delivery delivery) throws Exception {
        for (int call = 1; ; call++) {
            try {
                next.handle(delivery);
                return;
            } catch (Exception | Error e) {
                if (call >= maxAttempts || !isRetryable(e)) {
                    throw e;
                }
                try {
                    TimeUnit.NANOSECONDS.sleep(delayFor(call).toNanos());
                } catch (InterruptedException interrupted) {
                    interrupted.addSuppressed(e);
                    throw interrupted;
                }
            }
        }
    }

    @Override
    public String toString() {
        return "RetryMiddleware{maxAttempts=" + maxAttempts + ", initialDelay=" + initialDelay + ", multiplier="
                + multiplier + ", maxDelay=" + maxDelay + ", jitter=" + jitter + ", inPlace=" + inPlace + '}';
    }

    /** Builds a {@link RetryMiddleware}; every setter validates at once. Not thread-safe. */
    public static final class Builder {
        private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
        private Duration initialDelay = DEFAULT_INITIAL_DELAY;
        private double multiplier = DEFAULT_MULTIPLIER;
        private Duration maxDelay = DEFAULT_MAX_DELAY;
        private boolean jitter = true;
        private Predicate<Throwable> retryIf = RETRY_ALL;
        private boolean inPlace;
        private RandomGenerator random;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /**
         * Attempts per message, counting the first; 1 means no retry (default {@value #DEFAULT_MAX_ATTEMPTS}).
         *
         * @throws IllegalArgumentException if below 1
         */
        public Builder maxAttempts(int maxAttempts) {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("maxAttempts must be >= 1, but was " + maxAttempts);
            }
            this.maxAttempts = maxAttempts;
            return this;
        }

        /**
         * The delay cap after the first failure (default 1 s). Zero is allowed (immediate retries,
         * for tests).
         *
         * @throws IllegalArgumentException if negative or over 365 days (the longest retry delay)
         */
        public Builder initialDelay(Duration initialDelay) {
            this.initialDelay = Settings.between(initialDelay, Duration.ZERO, Delivery.RetryRequest.MAX_DELAY, "initialDelay");
            return this;
        }

        /**
         * How much the delay cap grows per attempt (default 2.0); 1.0 gives a constant cap.
         *
         * @throws IllegalArgumentException if below 1.0, NaN or infinite
         */
        public Builder multiplier(double multiplier) {
            if (!(multiplier >= 1.0) || Double.isInfinite(multiplier)) {
                throw new IllegalArgumentException("multiplier must be a finite number >= 1.0, but was " + multiplier);
            }
            this.multiplier = multiplier;
            return this;
        }

        /**
         * Upper bound of every delay (default 5 min). Checked against {@link #initialDelay} at
         * {@link #build()}.
         *
         * @throws IllegalArgumentException if negative or over 365 days (the longest retry delay)
         */
        public Builder maxDelay(Duration maxDelay) {
            this.maxDelay = Settings.between(maxDelay, Duration.ZERO, Delivery.RetryRequest.MAX_DELAY, "maxDelay");
            return this;
        }

        /** Full jitter (default true): draw each delay uniformly from {@code [0, cap]}. */
        public Builder jitter(boolean jitter) {
            this.jitter = jitter;
            return this;
        }

        /**
         * Which failures to retry (default: all). The predicate sees the failure with
         * {@code CompletionException}/{@code ExecutionException} wrappers removed. It cannot make a
         * {@link NonRetryableException} retryable.
         */
        public Builder retryIf(Predicate<Throwable> retryIf) {
            this.retryIf = Objects.requireNonNull(retryIf, "retryIf");
            return this;
        }

        /** Retry in place on the consumer thread, keeping order (default false: retry by durable redelivery). */
        public Builder inPlace(boolean inPlace) {
            this.inPlace = inPlace;
            return this;
        }

        /**
         * The source of jitter (default: {@link ThreadLocalRandom}). Must be thread-safe when the route
         * runs handlers concurrently; {@link java.util.Random} is. Inject a seeded one in tests.
         */
        public Builder random(RandomGenerator random) {
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /** The clock for the failure timestamps written into headers (default: system UTC). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Builds the middleware.
         *
         * @throws IllegalArgumentException if {@code maxDelay < initialDelay}
         */
        public RetryMiddleware build() {
            if (maxDelay.compareTo(initialDelay) < 0) {
                throw new IllegalArgumentException("maxDelay must be >= initialDelay (" + initialDelay + "), but was " + maxDelay);
            }
            return new RetryMiddleware(this);
        }
    }
}
