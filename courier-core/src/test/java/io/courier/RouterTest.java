package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.memory.InMemoryTransport;
import io.courier.spi.BasicDelivery;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RouterTest {

    private final InMemoryTransport transport = InMemoryTransport.create();

    @AfterEach
    void close() {
        transport.close();
    }

    /** Runs {@code handler} through the router's chain machinery once, the way a transport would. */
    private static Outcome runChain(Handler handler, List<Middleware> middleware, LifecycleListener listener) {
        Handler chain = io.courier.internal.HandlerChain.build(handler, middleware, listener);
        BasicDelivery d = new BasicDelivery(Message.ofText("x"), "t", "g", 1);
        return HandlerInvoker.invoke(chain, d, Duration.ofSeconds(1));
    }

    private static Middleware named(String name, Middleware m) {
        return new Middleware() {
            @Override
            public Handler wrap(Handler next) {
                return m.wrap(next);
            }

            @Override
            public String name() {
                return name;
            }
        };
    }

    @Test
    void firstAddedMiddlewareIsOutermost() {
        List<String> trace = new CopyOnWriteArrayList<>();
        Middleware a = next -> d -> { trace.add("a>"); next.handle(d); trace.add("<a"); };
        Middleware b = next -> d -> { trace.add("b>"); next.handle(d); trace.add("<b"); };

        Outcome o = runChain(d -> trace.add("handler"), List.of(a, b), LifecycleListener.NONE);

        assertThat(o).isInstanceOf(Outcome.Ack.class);
        assertThat(trace).containsExactly("a>", "b>", "handler", "<b", "<a");
    }

    @Test
    void wrapReturningNullFailsAtRouteTimeNamingTheMiddleware() {
        Middleware broken = named("BrokenWrap", next -> null);
        Router router = Router.builder(transport).use(d -> d).use(broken).build();

        assertThatThrownBy(() -> router.route("t", "g", d -> { }))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'BrokenWrap'")
                .hasMessageContaining("position 2 of 2")
                .hasMessageContaining("returned null");
    }

    @Test
    void callingNextAfterReturningFailsNamingTheMiddleware() throws Exception {
        AtomicReference<Throwable> lateCallError = new AtomicReference<>();
        CountDownLatch lateCallDone = new CountDownLatch(1);
        CountDownLatch chainReturned = new CountDownLatch(1);
        Middleware leaky = named("LeakyAsync", next -> d -> {
            Thread t = new Thread(() -> {
                try {
                    chainReturned.await();   // call next only after the chain returned: the bug being provoked
                    next.handle(d);
                } catch (Throwable e) {
                    lateCallError.set(e);
                } finally {
                    lateCallDone.countDown();
                }
            });
            t.start();
        });

        runChain(d -> { }, List.of(leaky), LifecycleListener.NONE);
        chainReturned.countDown();

        assertThat(lateCallDone.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(lateCallError.get())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'LeakyAsync'")
                .hasMessageContaining("after its own handler had returned");
    }

    @Test
    void overlappingNextCallsForOneDeliveryFailNamingTheMiddleware() {
        CountDownLatch inHandler = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Middleware doubler = named("Doubler", next -> d -> {
            Thread first = new Thread(() -> {
                try {
                    next.handle(d);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            first.start();
            inHandler.await();
            try {
                next.handle(d);   // second call while the first is still running
            } finally {
                release.countDown();
                first.join();
            }
        });

        Outcome o = runChain(d -> {
            inHandler.countDown();
            release.await(5, TimeUnit.SECONDS);
        }, List.of(doubler), LifecycleListener.NONE);

        assertThat(o).isInstanceOfSatisfying(Outcome.Failed.class, f -> assertThat(f.error())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'Doubler'")
                .hasMessageContaining("still running"));
    }

    @Test
    void sequentialNextCallsAreAllowedForInPlaceRetry() {
        AtomicInteger calls = new AtomicInteger();
        Middleware twice = next -> d -> {
            try {
                next.handle(d);
            } catch (IllegalArgumentException first) {
                next.handle(d);
            }
        };

        Outcome o = runChain(d -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalArgumentException("first attempt fails");
            }
        }, List.of(twice), LifecycleListener.NONE);

        assertThat(o).isInstanceOf(Outcome.Ack.class);
        assertThat(calls).hasValue(2);
    }

    @Test
    void listenerHearsFailedRetriedDeadLetteredAndAcked() {
        List<String> events = new CopyOnWriteArrayList<>();
        LifecycleListener listener = new LifecycleListener() {
            @Override
            public void onDelivered(Delivery d) {
                events.add("delivered");
            }

            @Override
            public void onAcked(Delivery d, Duration t) {
                events.add("acked");
            }

            @Override
            public void onFailed(Delivery d, Throwable e, Duration t) {
                events.add("failed:" + e.getMessage());
            }

            @Override
            public void onRetried(Delivery d, Duration delay) {
                events.add("retried:" + delay.toMillis());
            }

            @Override
            public void onDeadLettered(Delivery d, String topic, String reason) {
                events.add("dead:" + topic + ":" + reason);
            }
        };
        Middleware retrying = next -> d -> {
            try {
                next.handle(d);
            } catch (Exception e) {
                d.retryAfter(Duration.ofMillis(250), Map.of());
            }
        };
        Middleware deadLettering = next -> d -> {
            try {
                next.handle(d);
            } catch (Exception e) {
                d.markDeadLettered("t.dlq", "max-attempts");
            }
        };

        assertThat(runChain(d -> { throw new IllegalStateException("boom"); }, List.of(retrying), listener))
                .isInstanceOf(Outcome.Retry.class);
        assertThat(runChain(d -> { throw new IllegalStateException("bang"); }, List.of(deadLettering), listener))
                .isInstanceOf(Outcome.Ack.class);
        assertThat(runChain(d -> { }, List.of(), listener)).isInstanceOf(Outcome.Ack.class);

        assertThat(events).containsExactly(
                "delivered", "failed:boom", "retried:250",
                "delivered", "failed:bang", "dead:t.dlq:max-attempts",
                "delivered", "acked");
    }

    @Test
    void throwingListenerNeverChangesTheSettlement() {
        LifecycleListener rude = new LifecycleListener() {
            @Override
            public void onAcked(Delivery d, Duration t) {
                throw new IllegalStateException("listener bug");
            }
        };

        assertThat(runChain(d -> { }, List.of(), rude)).isInstanceOf(Outcome.Ack.class);
    }

    @Test
    void errorsFromHandlersBecomeFailuresNotCrashes() {
        Outcome o = runChain(d -> { throw new AssertionError("an Error, not an Exception"); }, List.of(), LifecycleListener.NONE);

        assertThat(o).isInstanceOfSatisfying(Outcome.Failed.class,
                f -> assertThat(f.error()).isInstanceOf(AssertionError.class));
    }

    record Greeting(String name, int times) {
    }

    @Test
    void typedRouteDecodesJsonAndPublisherStampsCorrelation() {
        List<Greeting> got = new CopyOnWriteArrayList<>();
        List<String> published = new CopyOnWriteArrayList<>();
        Router router = Router.builder(transport)
                .listener(new LifecycleListener() {
                    @Override
                    public void onPublished(String topic, Message m, PublishResult r) {
                        published.add(topic + ":" + m.id());
                    }
                })
                .build();
        router.route("greetings", "printer", Greeting.class, (g, d) -> got.add(g)).start();

        Message m = Message.builder().payload(router.codec().encode(new Greeting("ada", 2))).build();
        router.publisher().publish("greetings", m).join();

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(got).containsExactly(new Greeting("ada", 2)));
        assertThat(published).containsExactly("greetings:" + m.id());
        assertThat(router.publisher()).isInstanceOf(DelayedPublisher.class);
        router.close();
    }

    @Test
    void malformedPayloadOnTypedRouteFailsWithDecodingException() {
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        Router router = Router.builder(transport)
                .listener(new LifecycleListener() {
                    @Override
                    public void onFailed(Delivery d, Throwable e, Duration t) {
                        failures.add(e);
                    }
                })
                .build();
        List<Greeting> got = new ArrayList<>();
        router.route("greetings", "printer", Greeting.class, (g, d) -> got.add(g)).start();

        transport.publisher().publish("greetings", Message.ofText("{not json")).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> !failures.isEmpty());
        assertThat(failures.get(0)).isInstanceOf(DecodingException.class)
                .isInstanceOf(NonRetryableException.class)
                .hasMessageContaining(Greeting.class.getName());
        assertThat(got).isEmpty();
        router.close();
    }

    @Test
    void closeLetsInFlightHandlerFinishAndAcks() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch mayFinish = new CountDownLatch(1);
        AtomicInteger finished = new AtomicInteger();
        Router router = Router.builder(transport).build();
        router.route("slow", "g", d -> {
            started.countDown();
            mayFinish.await();
            finished.incrementAndGet();
        }).start();
        transport.publisher().publish("slow", Message.ofText("x")).join();
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

        Thread closer = new Thread(router::close);
        closer.start();
        mayFinish.countDown();
        closer.join(10_000);

        assertThat(closer.isAlive()).isFalse();
        assertThat(finished).hasValue(1);
        assertThat(transport.backlog("slow", "g")).isZero();
    }

    @Test
    void startIsAllOrNothingWhenARouteCannotSubscribe() {
        Router router = Router.builder(transport).build();
        router.route("fine", "g", d -> { });
        router.route(SubscriptionOptions.builder("refused", "g").with(new PigeonOption(3)).build(), d -> { });

        assertThatThrownBy(router::start).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PigeonOption");

        assertThat(router.subscriptions()).as("the route that did subscribe was closed again").isEmpty();
        assertThatThrownBy(router::start).as("a second start tries again instead of doing nothing")
                .isInstanceOf(IllegalArgumentException.class);
        router.close();
    }

    /** An option of an imaginary transport. */
    private record PigeonOption(int birds) implements TransportOption {
    }

    /** A transport that records the options each subscription reaches it with. */
    private static final class RecordingTransport implements Transport {
        final List<SubscriptionOptions> subscribed = new CopyOnWriteArrayList<>();
        private final InMemoryTransport real = InMemoryTransport.create();
        private final Subscriber subscriber = (options, handler) -> {
            subscribed.add(options);
            // the in-memory transport would refuse the imaginary option: it only stands in for delivery here
            return real.subscriber().subscribe(SubscriptionOptions.of(options.topic(), options.group()), handler);
        };

        @Override
        public String name() {
            return "recording";
        }

        @Override
        public Publisher publisher() {
            return real.publisher();
        }

        @Override
        public Subscriber subscriber() {
            return subscriber;
        }

        @Override
        public void close() {
            real.close();
        }
    }

    @Test
    void routesHandTheirOptionsToTheTransportUnchanged() {
        try (RecordingTransport recording = new RecordingTransport();
             Router router = Router.builder(recording).build()) {
            SubscriptionOptions before = SubscriptionOptions.builder("orders", "billing")
                    .ordering(MessageOrdering.KEY).with(new PigeonOption(3)).concurrency(2).build();
            SubscriptionOptions after = SubscriptionOptions.builder("orders", "audit").with(new PigeonOption(7)).build();
            router.route(before, d -> { });
            SubscriptionOptions typed = SubscriptionOptions.builder("orders", "typed")
                    .ordering(MessageOrdering.KEY).with(new PigeonOption(3)).build();
            router.route(typed, String.class, (value, d) -> { });
            router.start();
            router.route(after, d -> { });

            assertThat(recording.subscribed).hasSize(3);
            assertThat(recording.subscribed.get(0)).isEqualTo(before);
            assertThat(recording.subscribed.get(1)).isEqualTo(typed);
            assertThat(recording.subscribed.get(2)).isEqualTo(after);
        }
    }

    @Test
    void aRouteWithAnOptionTheTransportDoesNotUnderstandFailsWhenItSubscribes() {
        Router router = Router.builder(transport).build();
        router.route(SubscriptionOptions.builder("orders", "billing").with(new PigeonOption(1)).build(), d -> { });
        assertThatThrownBy(router::start)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the memory transport does not understand the transport option "
                        + PigeonOption.class.getName());
        router.close();
        assertThatThrownBy(() -> Router.builder(transport).build().start()
                .route(SubscriptionOptions.builder("orders", "late").with(new PigeonOption(1)).build(), d -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(PigeonOption.class.getName());
    }

    @Test
    void keyOrderingAskedOfTheInMemoryTransportIsKept() throws Exception {
        List<Integer> seen = new CopyOnWriteArrayList<>();
        AtomicInteger running = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        try (Router router = Router.builder(transport).build()) {
            router.route(SubscriptionOptions.builder("orders", "billing").concurrency(8).ordering(MessageOrdering.KEY).build(),
                    d -> {
                        if (running.incrementAndGet() > 1) {
                            overlaps.incrementAndGet();
                        }
                        seen.add(Integer.parseInt(d.message().payloadAsText()));
                        running.decrementAndGet();
                    }).start();
            for (int i = 0; i < 200; i++) {
                transport.publisher().publish("orders", Message.builder().key("k").payload(Integer.toString(i)
                        .getBytes(StandardCharsets.UTF_8)).build()).join();
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() == 200);
        }
        assertThat(seen).isSorted();
        assertThat(overlaps).hasValue(0);
    }
}
