package io.courier.middleware;

import static io.courier.middleware.TestDeliveries.FIXED_CLOCK;
import static io.courier.middleware.TestDeliveries.NOW;
import static io.courier.middleware.TestDeliveries.delivery;
import static io.courier.middleware.TestDeliveries.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.DecodingException;
import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Message;
import io.courier.NonRetryableException;
import io.courier.spi.BasicDelivery;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class RetryMiddlewareTest {

    private static final Handler ALWAYS_FAILS = d -> {
        throw new IllegalStateException("database is down");
    };

    @Test
    void defaultsAreTheDocumentedOnes() {
        RetryMiddleware retry = RetryMiddleware.defaults();

        assertThat(retry.maxAttempts()).isEqualTo(5);
        assertThat(retry.initialDelay()).isEqualTo(Duration.ofSeconds(1));
        assertThat(retry.multiplier()).isEqualTo(2.0);
        assertThat(retry.maxDelay()).isEqualTo(Duration.ofMinutes(5));
        assertThat(retry.jitter()).isTrue();
        assertThat(retry.inPlace()).isFalse();
    }

    @Test
    void requestsDurableRedeliveryWithBackoffAndFailureHeaders() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().jitter(false).clock(FIXED_CLOCK).build();
        BasicDelivery d = delivery(1);

        retry.wrap(ALWAYS_FAILS).handle(d);   // returns normally: the message is rescheduled, not failed

        assertThat(d.retryRequest()).hasValueSatisfying(r -> {
            assertThat(r.delay()).isEqualTo(Duration.ofSeconds(1));
            assertThat(r.headers())
                    .containsEntry(Headers.FIRST_FAILURE_AT, NOW.toString())
                    .containsEntry(Headers.LAST_FAILURE_AT, NOW.toString())
                    .containsEntry(Headers.EXCEPTION_CLASS, IllegalStateException.class.getName())
                    .containsEntry(Headers.EXCEPTION_MESSAGE, "database is down")
                    .containsEntry(Headers.ORIGINAL_TOPIC, "orders");
        });
    }

    @Test
    void keepsTheFirstFailureTimeOfEarlierAttempts() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().clock(FIXED_CLOCK).build();
        Message earlier = message("msg-1").withHeader(Headers.FIRST_FAILURE_AT, "2029-12-31T00:00:00Z");
        BasicDelivery d = delivery(earlier, 2);

        retry.wrap(ALWAYS_FAILS).handle(d);

        assertThat(d.retryRequest().orElseThrow().headers())
                .containsEntry(Headers.FIRST_FAILURE_AT, "2029-12-31T00:00:00Z")
                .containsEntry(Headers.LAST_FAILURE_AT, NOW.toString());
    }

    @Test
    void truncatesLongExceptionMessagesTo1000Characters() throws Exception {
        String huge = "x".repeat(5000);
        BasicDelivery d = delivery(1);

        RetryMiddleware.defaults().wrap(x -> {
            throw new IllegalStateException(huge);
        }).handle(d);

        assertThat(d.retryRequest().orElseThrow().headers().get(Headers.EXCEPTION_MESSAGE)).hasSize(1000);
    }

    @Test
    void successIsLeftAlone() throws Exception {
        BasicDelivery d = delivery(1);

        RetryMiddleware.defaults().wrap(x -> { }).handle(d);

        assertThat(d.retryRequest()).isEmpty();
    }

    @Test
    void backoffGrowsExponentiallyUpToMaxDelay() {
        RetryMiddleware retry = RetryMiddleware.builder().jitter(false)
                .initialDelay(Duration.ofMillis(100)).multiplier(3).maxDelay(Duration.ofSeconds(2)).build();

        List<Duration> delays = new ArrayList<>();
        for (int attempt = 1; attempt <= 6; attempt++) {
            delays.add(retry.delayFor(attempt));
        }

        assertThat(delays).containsExactly(Duration.ofMillis(100), Duration.ofMillis(300), Duration.ofMillis(900),
                Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(2));
        assertThat(retry.delayFor(10_000)).isEqualTo(Duration.ofSeconds(2));   // no overflow for huge attempts
    }

    /** Without jitter every consumer that failed together comes back at the same instant. */
    @Test
    void fullJitterSpreadsDelaysOfTheSameAttemptOverZeroToCap() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().random(new Random(42))
                .initialDelay(Duration.ofSeconds(1)).multiplier(2).build();
        Duration cap = Duration.ofSeconds(4);   // attempt 3: 1 s * 2^2

        Set<Duration> distinct = new HashSet<>();
        Duration min = cap;
        Duration max = Duration.ZERO;
        for (int i = 0; i < 500; i++) {
            BasicDelivery d = delivery(message("msg-" + i), 3);
            retry.wrap(ALWAYS_FAILS).handle(d);
            Duration delay = d.retryRequest().orElseThrow().delay();
            assertThat(delay).isBetween(Duration.ZERO, cap);
            distinct.add(delay);
            min = delay.compareTo(min) < 0 ? delay : min;
            max = delay.compareTo(max) > 0 ? delay : max;
        }

        assertThat(distinct).hasSizeGreaterThan(450);
        assertThat(min).isLessThan(cap.dividedBy(10));
        assertThat(max).isGreaterThan(cap.multipliedBy(9).dividedBy(10));
    }

    @Test
    void jitterDrawsFromTheInjectedRandomGeneratorUpToTheCapInclusive() {
        RandomGenerator highest = new RandomGenerator() {
            @Override
            public long nextLong() {
                throw new UnsupportedOperationException();
            }

            @Override
            public long nextLong(long origin, long bound) {
                return bound - 1;
            }
        };
        RetryMiddleware retry = RetryMiddleware.builder().random(highest).initialDelay(Duration.ofMillis(10)).build();

        assertThat(retry.delayFor(2)).isEqualTo(Duration.ofMillis(20));
        assertThat(retry.backoffCap(2)).isEqualTo(Duration.ofMillis(20));
    }

    @Test
    void stopsAtMaxAttemptsAndRethrowsTheFailure() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().maxAttempts(3).build();
        Handler chain = retry.wrap(ALWAYS_FAILS);

        BasicDelivery second = delivery(2);
        chain.handle(second);
        assertThat(second.retryRequest()).isPresent();

        BasicDelivery third = delivery(3);
        assertThatThrownBy(() -> chain.handle(third)).isInstanceOf(IllegalStateException.class).hasMessage("database is down");
        assertThat(third.retryRequest()).isEmpty();
    }

    @Test
    void neverRetriesNonRetryableExceptions() {
        Handler chain = RetryMiddleware.defaults().wrap(d -> {
            throw new NonRetryableException("order 42 does not exist");
        });
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> chain.handle(d)).isInstanceOf(NonRetryableException.class);
        assertThat(d.retryRequest()).isEmpty();
    }

    @Test
    void neverRetriesDecodingFailures() {
        Handler chain = RetryMiddleware.defaults().wrap(d -> {
            throw new DecodingException("cannot decode OrderPlaced: unexpected token", new IOException("bad json"));
        });
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> chain.handle(d)).isInstanceOf(DecodingException.class);
        assertThat(d.retryRequest()).isEmpty();
    }

    @Test
    void findsNonRetryableCausesInsideWrappers() {
        Handler chain = RetryMiddleware.defaults().wrap(d -> {
            throw new CompletionException(new IllegalStateException("enrichment failed",
                    new DecodingException("bad payload", new IOException("eof"))));
        });
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> chain.handle(d)).isInstanceOf(CompletionException.class);
        assertThat(d.retryRequest()).isEmpty();
    }

    @Test
    void predicateSeesUnwrappedFailureAndCanRefuseRetries() throws Exception {
        AtomicReference<Throwable> seen = new AtomicReference<>();
        RetryMiddleware retry = RetryMiddleware.builder().retryIf(e -> {
            seen.set(e);
            return !(e instanceof IllegalArgumentException);
        }).build();
        IllegalArgumentException invalid = new IllegalArgumentException("negative quantity");
        BasicDelivery refused = delivery(1);

        assertThatThrownBy(() -> retry.wrap(d -> {
            throw new CompletionException(invalid);
        }).handle(refused)).isInstanceOf(CompletionException.class);
        assertThat(seen.get()).isSameAs(invalid);
        assertThat(refused.retryRequest()).isEmpty();

        BasicDelivery accepted = delivery(1);
        retry.wrap(d -> {
            throw new UncheckedIOException(new IOException("connection reset"));
        }).handle(accepted);
        assertThat(accepted.retryRequest()).isPresent();
    }

    @Test
    void predicateCannotMakeNonRetryableExceptionsRetryable() {
        RetryMiddleware retry = RetryMiddleware.builder().retryIf(e -> true).build();

        assertThat(retry.isRetryable(new NonRetryableException("never"))).isFalse();
        assertThat(retry.isRetryable(new InterruptedException())).isFalse();
        assertThat(retry.isRetryable(new IllegalStateException("maybe"))).isTrue();
    }

    @Test
    void retriesErrorsToo() throws Exception {
        BasicDelivery d = delivery(1);

        RetryMiddleware.defaults().wrap(x -> {
            throw new AssertionError("invariant broken");
        }).handle(d);

        assertThat(d.retryRequest().orElseThrow().headers()).containsEntry(Headers.EXCEPTION_CLASS, AssertionError.class.getName());
    }

    @Test
    void inPlaceRetriesOnTheSameThreadUntilSuccess() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().inPlace(true).initialDelay(Duration.ofMillis(1))
                .maxDelay(Duration.ofMillis(5)).build();
        AtomicInteger calls = new AtomicInteger();
        Set<Thread> threads = new HashSet<>();
        BasicDelivery d = delivery(1);

        retry.wrap(x -> {
            threads.add(Thread.currentThread());
            if (calls.incrementAndGet() < 3) {
                throw new IllegalStateException("flaky");
            }
        }).handle(d);

        assertThat(calls).hasValue(3);
        assertThat(threads).containsExactly(Thread.currentThread());
        assertThat(d.retryRequest()).isEmpty();
    }

    @Test
    void inPlaceRethrowsTheLastFailureAfterMaxAttemptsCalls() {
        RetryMiddleware retry = RetryMiddleware.builder().inPlace(true).maxAttempts(4)
                .initialDelay(Duration.ZERO).maxDelay(Duration.ZERO).build();
        AtomicInteger calls = new AtomicInteger();

        assertThatThrownBy(() -> retry.wrap(x -> {
            throw new IllegalStateException("failure " + calls.incrementAndGet());
        }).handle(delivery(1))).hasMessage("failure 4");
        assertThat(calls).hasValue(4);
    }

    @Test
    void inPlaceDoesNotRetryNonRetryableFailures() {
        RetryMiddleware retry = RetryMiddleware.builder().inPlace(true).initialDelay(Duration.ZERO).build();
        AtomicInteger calls = new AtomicInteger();

        assertThatThrownBy(() -> retry.wrap(x -> {
            calls.incrementAndGet();
            throw new DecodingException("bad", new IOException());
        }).handle(delivery(1))).isInstanceOf(DecodingException.class);
        assertThat(calls).hasValue(1);
    }

    @Test
    void inPlaceBackoffSleepIsInterruptible() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().inPlace(true).jitter(false)
                .initialDelay(Duration.ofHours(1)).maxDelay(Duration.ofHours(1)).build();
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Delivery d = delivery(1);
        Thread consumer = new Thread(() -> {
            try {
                retry.wrap(x -> {
                    calls.incrementAndGet();
                    throw new IllegalStateException("down");
                }).handle(d);
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        consumer.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() == 1);

        consumer.interrupt();
        consumer.join(Duration.ofSeconds(10).toMillis());

        assertThat(consumer.isAlive()).isFalse();
        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        assertThat(outcome.get().getSuppressed()).singleElement().isInstanceOf(IllegalStateException.class);
        assertThat(calls).hasValue(1);
    }

    @Test
    void builderRejectsInvalidSettingsWithPreciseMessages() {
        assertThatThrownBy(() -> RetryMiddleware.builder().maxAttempts(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxAttempts must be >= 1, but was 0");
        assertThatThrownBy(() -> RetryMiddleware.builder().initialDelay(Duration.ofSeconds(-1)))
                .hasMessage("initialDelay must be between PT0S and PT8760H, but was PT-1S");
        assertThatThrownBy(() -> RetryMiddleware.builder().multiplier(0.5))
                .hasMessage("multiplier must be a finite number >= 1.0, but was 0.5");
        assertThatThrownBy(() -> RetryMiddleware.builder().multiplier(Double.NaN))
                .hasMessage("multiplier must be a finite number >= 1.0, but was NaN");
        assertThatThrownBy(() -> RetryMiddleware.builder().multiplier(Double.POSITIVE_INFINITY))
                .hasMessage("multiplier must be a finite number >= 1.0, but was Infinity");
        assertThatThrownBy(() -> RetryMiddleware.builder().maxDelay(Duration.ofMillis(-5)))
                .hasMessage("maxDelay must be between PT0S and PT8760H, but was PT-0.005S");
        // A delay no retry request can carry (its milliseconds overflowed in the transports) is refused up front.
        assertThatThrownBy(() -> RetryMiddleware.builder().maxDelay(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxDelay must be between PT0S and PT8760H");
        assertThatThrownBy(() -> RetryMiddleware.builder().initialDelay(Duration.ofDays(366)))
                .hasMessage("initialDelay must be between PT0S and PT8760H, but was PT8784H");
        assertThatThrownBy(() -> RetryMiddleware.builder().initialDelay(Duration.ofSeconds(10)).maxDelay(Duration.ofSeconds(5)).build())
                .hasMessage("maxDelay must be >= initialDelay (PT10S), but was PT5S");
        assertThatThrownBy(() -> RetryMiddleware.builder().retryIf(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> RetryMiddleware.defaults().delayFor(0))
                .hasMessage("attempt must be >= 1, but was 0");
    }

    @Test
    void toBuilderKeepsSettings() {
        RetryMiddleware original = RetryMiddleware.builder().maxAttempts(7).initialDelay(Duration.ofMillis(3))
                .multiplier(1.5).maxDelay(Duration.ofSeconds(9)).jitter(false).inPlace(true).build();

        RetryMiddleware copy = original.toBuilder().build();

        assertThat(copy).hasToString(original.toString());
    }
}
