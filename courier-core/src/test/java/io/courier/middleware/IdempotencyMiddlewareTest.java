package io.courier.middleware;

import static io.courier.middleware.TestDeliveries.delivery;
import static io.courier.middleware.TestDeliveries.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Handler;
import io.courier.IdempotencyStore;
import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.memory.InMemoryIdempotencyStore;
import io.courier.memory.InMemoryTransport;
import io.courier.spi.BasicDelivery;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdempotencyMiddlewareTest {

    private final InMemoryIdempotencyStore store = new InMemoryIdempotencyStore();
    private final AtomicInteger runs = new AtomicInteger();
    private final Handler counting = d -> runs.incrementAndGet();

    @Test
    void runsTheHandlerOnceAndAcksDuplicatesWithoutRunningIt() throws Exception {
        Handler chain = new IdempotencyMiddleware(store).wrap(counting);
        BasicDelivery first = delivery(message("order-42"), 1);
        BasicDelivery duplicate = delivery(message("order-42"), 1);

        chain.handle(first);
        chain.handle(duplicate);   // returns normally: acked

        assertThat(runs).hasValue(1);
        assertThat(duplicate.retryRequest()).isEmpty();
        assertThat(store.tryClaim(IdempotencyMiddleware.defaultKey(first), Duration.ofSeconds(1))).isInstanceOf(IdempotencyStore.Claim.AlreadyDone.class);
    }

    @Test
    void eachGroupProcessesTheMessageOnce() throws Exception {
        Handler chain = new IdempotencyMiddleware(store).wrap(counting);
        Message m = message("order-42");

        chain.handle(new BasicDelivery(m, "orders", "billing", 1));
        chain.handle(new BasicDelivery(m, "orders", "shipping", 1));
        chain.handle(new BasicDelivery(m, "orders", "shipping", 2));

        assertThat(runs).hasValue(2);
    }

    @Test
    void theSameIdOnTwoTopicsOfOneGroupRunsBothHandlers() throws Exception {
        Handler chain = new IdempotencyMiddleware(store).wrap(counting);
        Message m = message("order-42");

        chain.handle(new BasicDelivery(m, "orders", "billing", 1));
        chain.handle(new BasicDelivery(m, "refunds", "billing", 1));
        chain.handle(new BasicDelivery(m, "refunds", "billing", 2));   // a real duplicate

        assertThat(runs).hasValue(2);
    }

    @Test
    void defaultKeyIsGroupTopicAndIdWithSeparatorsInNamesEscaped() {
        Message m = message("order-42");
        assertThat(IdempotencyMiddleware.defaultKey(new BasicDelivery(m, "orders", "billing", 1)))
                .isEqualTo("billing:orders:order-42");
        String colonInGroup = IdempotencyMiddleware.defaultKey(new BasicDelivery(m, "c", "a:b", 1));
        String colonInTopic = IdempotencyMiddleware.defaultKey(new BasicDelivery(m, "b:c", "a", 1));
        assertThat(colonInGroup).isEqualTo("a\\:b:c:order-42");
        assertThat(colonInTopic).isEqualTo("a:b\\:c:order-42");
        assertThat(IdempotencyMiddleware.defaultKey(new BasicDelivery(m, "t", "g\\", 1)))
                .isNotEqualTo(IdempotencyMiddleware.defaultKey(new BasicDelivery(m, "\\:t", "g", 1)));
    }

    @Test
    void aFailureReleasesTheClaimSoTheNextDeliveryRunsAgain() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Handler chain = new IdempotencyMiddleware(store).wrap(d -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("database is down");
            }
        });

        assertThatThrownBy(() -> chain.handle(delivery(1))).hasMessage("database is down");
        chain.handle(delivery(2));
        chain.handle(delivery(3));

        assertThat(calls).hasValue(2);
    }

    @Test
    void aRequestedRetryOrDeadLetterIsNotDone() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Handler chain = new IdempotencyMiddleware(store).wrap(d -> {
            int call = calls.incrementAndGet();
            if (call == 1) {
                d.retryAfter(Duration.ofSeconds(1), Map.of());
            } else if (call == 2) {
                d.markDeadLettered("orders.dlq", "max-attempts");
            }
        });

        chain.handle(delivery(1));
        chain.handle(delivery(2));
        chain.handle(delivery(3));
        chain.handle(delivery(4));

        assertThat(calls).hasValue(3);
    }

    @Test
    void aConcurrentDuplicateIsLookedAtAgainSoonNotRunNorAcked() throws Exception {
        String holder = ((IdempotencyStore.Claim.Acquired) store.tryClaim(IdempotencyMiddleware.defaultKey(delivery(message("order-42"), 1)), Duration.ofSeconds(40))).token();
        BasicDelivery duplicate = delivery(message("order-42"), 1);

        IdempotencyMiddleware.builder(store).lease(Duration.ofSeconds(40)).build().wrap(counting).handle(duplicate);

        assertThat(runs).hasValue(0);
        assertThat(duplicate.retryRequest()).hasValueSatisfying(r ->
                assertThat(r.delay()).isEqualTo(Duration.ofMillis(IdempotencyMiddleware.MAX_IN_PROGRESS_RETRY_MILLIS)));
        assertThat(holder).isNotBlank();
    }

    @Test
    void aFixedInProgressRetryDelayCanBeSet() throws Exception {
        store.tryClaim(IdempotencyMiddleware.defaultKey(delivery(message("order-42"), 1)), Duration.ofMinutes(1));
        BasicDelivery duplicate = delivery(message("order-42"), 1);

        IdempotencyMiddleware.builder(store).inProgressRetryDelay(Duration.ofMillis(250)).build().wrap(counting).handle(duplicate);

        assertThat(duplicate.retryRequest().orElseThrow().delay()).isEqualTo(Duration.ofMillis(250));
    }

    /**
     * The brief's bug 10: N deliveries of one message truly racing. The handler blocks until every
     * other delivery has come back from the middleware, so if any of them got past the claim it is
     * counted as a second run.
     */
    @ParameterizedTest(name = "{0} concurrent deliveries")
    @ValueSource(ints = {2, 4, 8, 16})
    void concurrentDeliveriesOfOneMessageRunTheHandlerExactlyOnce(int threads) throws Exception {
        Race race = race(store, threads);

        assertThat(race.runs).isEqualTo(1);
        assertThat(race.retried).isEqualTo(threads - 1);   // the others were rescheduled, not acked blind
        BasicDelivery later = delivery(message("order-42"), 2);
        new IdempotencyMiddleware(store).wrap(counting).handle(later);
        assertThat(later.retryRequest()).isEmpty();
        assertThat(runs).hasValue(0);
    }

    /** Proves the race test can fail: a naive "check processed, run, mark processed" runs the handler N times. */
    @Test
    void theRaceTestCatchesACheckThenActStore() throws Exception {
        Race race = race(new CheckThenActStore(), 8);

        assertThat(race.runs).isEqualTo(8);
    }

    @Test
    void concurrentDuplicatesThroughARouterAreHandledOnce() {
        Set<String> handled = ConcurrentHashMap.newKeySet();
        AtomicInteger calls = new AtomicInteger();
        try (InMemoryTransport transport = InMemoryTransport.create();
             Router router = Router.builder(transport)
                     .use(IdempotencyMiddleware.builder(store).inProgressRetryDelay(Duration.ofMillis(10)).build())
                     .build()) {
            router.route(SubscriptionOptions.builder("orders", "billing").concurrency(4).build(), d -> {
                calls.incrementAndGet();
                handled.add(d.message().id());
            });
            router.start();
            Message m = Message.builder().id("order-42").payload("x".getBytes()).build();
            router.publisher().publish("orders", m).join();
            router.publisher().publish("orders", m).join();   // the same message published twice

            await().atMost(Duration.ofSeconds(10)).until(() -> transport.backlog("orders", "billing") == 0);
            assertThat(calls).hasValue(1);
            assertThat(handled).containsExactly("order-42");
        }
    }

    @Test
    void aStoreFailureAfterSuccessIsLoggedAndTheMessageAcked() throws Exception {
        IdempotencyStore failingComplete = new DelegatingStore(store) {
            @Override
            public boolean complete(String key, String token, Duration retention) {
                throw new IllegalStateException("redis unreachable");
            }
        };
        BasicDelivery d = delivery(1);

        new IdempotencyMiddleware(failingComplete).wrap(counting).handle(d);

        assertThat(runs).hasValue(1);
        assertThat(d.retryRequest()).isEmpty();
    }

    @Test
    void aStoreFailureOnReleaseIsAttachedToTheHandlerFailure() {
        IdempotencyStore failingRelease = new DelegatingStore(store) {
            @Override
            public boolean release(String key, String token) {
                throw new IllegalStateException("redis unreachable");
            }
        };

        assertThatThrownBy(() -> new IdempotencyMiddleware(failingRelease).wrap(d -> {
            throw new IllegalArgumentException("bad order");
        }).handle(delivery(1)))
                .hasMessage("bad order")
                .satisfies(e -> assertThat(e.getSuppressed()).singleElement().hasFieldOrPropertyWithValue("message", "redis unreachable"));
    }

    @Test
    void aStoreFailureOnClaimFailsTheAttemptWithoutRunningTheHandler() {
        IdempotencyStore down = new DelegatingStore(store) {
            @Override
            public Claim tryClaim(String key, Duration lease) {
                throw new IllegalStateException("redis unreachable");
            }
        };

        assertThatThrownBy(() -> new IdempotencyMiddleware(down).wrap(counting).handle(delivery(1))).hasMessage("redis unreachable");
        assertThat(runs).hasValue(0);
    }

    @Test
    void usesTheKeyFunction() throws Exception {
        Handler chain = IdempotencyMiddleware.builder(store)
                .keyFunction(d -> d.message().header("order-id").orElseThrow()).build().wrap(counting);

        chain.handle(delivery(Message.builder().header("order-id", "42").build(), 1));
        chain.handle(delivery(Message.builder().header("order-id", "42").build(), 1));   // other id, same order

        assertThat(runs).hasValue(1);
        assertThatThrownBy(() -> IdempotencyMiddleware.builder(store).keyFunction(d -> null).build().wrap(counting)
                .handle(delivery(message("m-9"), 1)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("idempotency key function returned 'null' for message m-9 from topic 'orders' "
                        + "(group 'billing', attempt 1); it must return a non-blank key");
    }

    @Test
    void builderRejectsInvalidSettings() {
        assertThatThrownBy(() -> IdempotencyMiddleware.builder(store).lease(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("lease must be > 0, but was PT0S");
        assertThatThrownBy(() -> IdempotencyMiddleware.builder(store).retention(Duration.ofHours(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("retention must be > 0, but was PT-1H");
        assertThatThrownBy(() -> IdempotencyMiddleware.builder(store).inProgressRetryDelay(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("inProgressRetryDelay must be >= 0, but was PT-0.001S");
        assertThatThrownBy(() -> new IdempotencyMiddleware(null)).isInstanceOf(NullPointerException.class);
    }

    private record Race(int runs, int retried) {
    }

    private static Race race(IdempotencyStore store, int threads) throws Exception {
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger returned = new AtomicInteger();
        CountDownLatch releaseHandler = new CountDownLatch(1);
        Handler chain = new IdempotencyMiddleware(store).wrap(d -> {
            runs.incrementAndGet();
            releaseHandler.await(30, TimeUnit.SECONDS);
        });
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<BasicDelivery> deliveries = new ArrayList<>();
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                BasicDelivery d = delivery(message("order-42"), 1);
                deliveries.add(d);
                done.add(pool.submit(() -> {
                    start.await(10, TimeUnit.SECONDS);
                    chain.handle(d);
                    returned.incrementAndGet();
                    return null;
                }));
            }
            // every delivery is either inside the handler or has come back from the middleware
            await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() + returned.get() == threads);
            releaseHandler.countDown();
            for (Future<?> f : done) {
                f.get(10, TimeUnit.SECONDS);
            }
            int retried = (int) deliveries.stream().filter(d -> d.retryRequest().isPresent()).count();
            return new Race(runs.get(), retried);
        } finally {
            pool.shutdownNow();
        }
    }

    /** The naive approach: "processed?" check, run, then mark processed. Not atomic, no in-progress state. */
    private static final class CheckThenActStore implements IdempotencyStore {
        private final Set<String> processed = ConcurrentHashMap.newKeySet();

        @Override
        public Claim tryClaim(String key, Duration lease) {
            return processed.contains(key) ? new Claim.AlreadyDone() : new Claim.Acquired(UUID.randomUUID().toString());
        }

        @Override
        public boolean complete(String key, String token, Duration retention) {
            processed.add(key);
            return true;
        }

        @Override
        public boolean release(String key, String token) {
            return true;
        }
    }

    private static class DelegatingStore implements IdempotencyStore {
        private final IdempotencyStore delegate;

        DelegatingStore(IdempotencyStore delegate) {
            this.delegate = delegate;
        }

        @Override
        public Claim tryClaim(String key, Duration lease) {
            return delegate.tryClaim(key, lease);
        }

        @Override
        public boolean complete(String key, String token, Duration retention) {
            return delegate.complete(key, token, retention);
        }

        @Override
        public boolean release(String key, String token) {
            return delegate.release(key, token);
        }
    }
}
