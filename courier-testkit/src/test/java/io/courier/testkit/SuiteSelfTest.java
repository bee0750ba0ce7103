package io.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import io.courier.Handler;
import io.courier.KeyOrderedSubscriber;
import io.courier.Message;
import io.courier.PublishResult;
import io.courier.Publisher;
import io.courier.Subscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.memory.InMemoryTransport;
import io.courier.spi.SubscriptionChecks;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * The suite fails transports that break the contract and skips only through declared capabilities:
 * deliberately broken or misdeclared transports are run through it with the JUnit launcher.
 */
class SuiteSelfTest {

    private static final TransportFeatures QUICK = TransportFeatures.builder()
            .delayedDelivery(true).keyOrdering(true).awaitTimeout(Duration.ofSeconds(3)).build();

    @Test
    void misdeclaredCapabilityFailsTheDeclarationCheck() {
        Map<String, TestExecutionResult> results = run(MisdeclaredSuite.class, "declaredFeaturesMatchTheTransport");
        TestExecutionResult r = results.get("declaredFeaturesMatchTheTransport()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("TransportFeatures.delayedDelivery is declared false");
    }

    @Test
    void undeclaredCapabilitySkipsNamingIt() {
        Map<String, TestExecutionResult> results = run(MisdeclaredSuite.class, "delayedDeliveryIsOnTime");
        TestExecutionResult r = results.get("delayedDeliveryIsOnTime()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.ABORTED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("TransportFeatures.delayedDelivery = false");
    }

    @Test
    void silentlyDroppedMessagesFailWithTheirIds() {
        Map<String, TestExecutionResult> results = run(LossySuite.class, "batchPublishDeliversAll");
        TestExecutionResult r = results.get("batchPublishDeliversAll()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("not received yet").hasMessageContaining("batch-");
    }

    @Test
    void immediateRedeliveryAfterFailureFails() {
        Map<String, TestExecutionResult> results = run(HotLoopSuite.class, "redeliversAfterHandlerFailure");
        TestExecutionResult r = results.get("redeliversAfterHandlerFailure()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("between the failure of");
    }

    @Test
    void crossProcessWithoutChildFactoryFailsTheDeclarationCheck() {
        Map<String, TestExecutionResult> results = run(CrossProcessWithoutFactorySuite.class, "declaredFeaturesMatchTheTransport");
        TestExecutionResult r = results.get("declaredFeaturesMatchTheTransport()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("childTransportFactory() returns null");
    }

    @Test
    void restartTestPassesWhenTheStoreOutlivesTheTransport() {
        Map<String, TestExecutionResult> results = run(SharedStoreSuite.class, "noAcknowledgedMessageLostAcrossTransportRestart");
        TestExecutionResult r = results.get("noAcknowledgedMessageLostAcrossTransportRestart()");
        assertThat(r.getStatus()).as("%s", r.getThrowable()).isEqualTo(TestExecutionResult.Status.SUCCESSFUL);
    }

    @Test
    void restartTestFailsWhenARestartForgetsMessages() {
        Map<String, TestExecutionResult> results = run(AmnesiacSuite.class, "noAcknowledgedMessageLostAcrossTransportRestart");
        TestExecutionResult r = results.get("noAcknowledgedMessageLostAcrossTransportRestart()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("waiting-");
    }

    @Test
    void transportThatRunsWithoutTheKeyOrderingItWasAskedForFails() {
        Map<String, TestExecutionResult> results = run(SilentlyUnorderedSuite.class, "keyOrderingOnRequestIsKeptOrRefused");
        TestExecutionResult r = results.get("keyOrderingOnRequestIsKeptOrRefused()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("must be refused at subscribe");
    }

    @Test
    void transportThatRefusesKeyOrderingPasses() {
        Map<String, TestExecutionResult> results = run(RefusingUnorderedSuite.class, "keyOrderingOnRequestIsKeptOrRefused");
        TestExecutionResult r = results.get("keyOrderingOnRequestIsKeptOrRefused()");
        assertThat(r.getStatus()).as("%s", r.getThrowable()).isEqualTo(TestExecutionResult.Status.SUCCESSFUL);
    }

    @Test
    void transportThatDropsForeignOptionsSilentlyFails() {
        Map<String, TestExecutionResult> results = run(OptionDroppingSuite.class, "foreignTransportOptionIsRefusedAtSubscribe");
        TestExecutionResult r = results.get("foreignTransportOptionIsRefusedAtSubscribe()");
        assertThat(r.getStatus()).isEqualTo(TestExecutionResult.Status.FAILED);
        assertThat(r.getThrowable().orElseThrow()).hasMessageContaining("an option of no transport");
    }

    private static Map<String, TestExecutionResult> run(Class<?> suite, String method) {
        Map<String, TestExecutionResult> results = new ConcurrentHashMap<>();
        Launcher launcher = LauncherFactory.create();
        launcher.execute(LauncherDiscoveryRequestBuilder.request().selectors(selectMethod(suite, method)).build(),
                new TestExecutionListener() {
                    @Override
                    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
                        if (id.isTest()) {
                            results.put(id.getDisplayName(), result);
                        }
                    }

                    @Override
                    public void executionSkipped(TestIdentifier id, String reason) {
                        results.put(id.getDisplayName(), TestExecutionResult.aborted(new AssertionError("skipped: " + reason)));
                    }
                });
        assertThat(results).as("results of %s#%s", suite.getSimpleName(), method).isNotEmpty();
        return results;
    }

    /** In-memory, declaring no delayed delivery although it has it. */
    static class MisdeclaredSuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            return InMemoryTransport.create();
        }

        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().delayedDelivery(false).build();
        }
    }

    /** Declares cross-process use but gives no factory for the child JVM. */
    static class CrossProcessWithoutFactorySuite extends MisdeclaredSuite {
        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().persistent(true).crossProcess(true).build();
        }
    }

    /** Every 25th published message is reported published but never stored. */
    static class LossySuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            InMemoryTransport real = InMemoryTransport.create();
            AtomicInteger count = new AtomicInteger();
            Publisher lossy = new Publisher() {
                @Override
                public CompletableFuture<PublishResult> publish(String topic, Message message) {
                    if (count.incrementAndGet() % 25 == 0) {
                        return CompletableFuture.completedFuture(PublishResult.of(message.id(), topic));
                    }
                    return real.publisher().publish(topic, message);
                }

                @Override
                public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
                    List<PublishResult> results = new ArrayList<>();
                    for (Message m : messages) {
                        results.add(publish(topic, m).join());
                    }
                    return CompletableFuture.completedFuture(results);
                }
            };
            return new Wrapped(real, lossy, real.subscriber());
        }

        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().delayedDelivery(false).build();
        }
    }

    /** Redelivers a failed message at once, ignoring the failure redelivery delay. */
    static class HotLoopSuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            InMemoryTransport real = InMemoryTransport.create();
            Subscriber hot = new Subscriber() {
                @Override
                public Subscription subscribe(SubscriptionOptions options, Handler handler) {
                    return real.subscriber().subscribe(options.toBuilder().failureRedeliveryDelay(Duration.ZERO).build(), handler);
                }
            };
            return new Wrapped(real, real.publisher(), hot);
        }

        @Override
        protected TransportFeatures features() {
            return QUICK;
        }
    }

    /**
     * Each transport is a view over one shared in-memory store that outlives it: closing the view
     * closes its subscriptions only, as closing a SQL transport leaves the database behind.
     */
    static class SharedStoreSuite extends TransportConformanceSuite {
        private final InMemoryTransport store = InMemoryTransport.create();

        @Override
        protected Transport createTransport() {
            List<Subscription> mine = new ArrayList<>();
            Subscriber tracking = (options, handler) -> {
                Subscription sub = store.subscriber().subscribe(options, handler);
                synchronized (mine) {
                    mine.add(sub);
                }
                return sub;
            };
            return new Wrapped(store, store.publisher(), tracking) {
                @Override
                public void close() {
                    synchronized (mine) {
                        mine.forEach(Subscription::close);
                    }
                }
            };
        }

        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().persistent(true).survivesRestart(true).build();
        }

        @org.junit.jupiter.api.AfterEach
        void closeStore() {
            store.close();
        }
    }

    /** Claims to survive a restart but every new instance starts empty. */
    static class AmnesiacSuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            return InMemoryTransport.create();
        }

        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().persistent(true).survivesRestart(true).build();
        }
    }

    /** Declares no key ordering, yet accepts MessageOrdering.KEY and runs without promising it. */
    static class SilentlyUnorderedSuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            InMemoryTransport real = InMemoryTransport.create();
            Subscriber plain = (options, handler) -> real.subscriber().subscribe(options, handler);
            return new Wrapped(real, real.publisher(), plain);
        }

        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().keyOrdering(false).build();
        }
    }

    /** Declares no key ordering and refuses MessageOrdering.KEY as the SPI helper does. */
    static class RefusingUnorderedSuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            InMemoryTransport real = InMemoryTransport.create();
            Subscriber plain = (options, handler) -> {
                SubscriptionChecks.refuseKeyOrdering(options, "broken-memory", "not available here");
                return real.subscriber().subscribe(options, handler);
            };
            return new Wrapped(real, real.publisher(), plain);
        }

        @Override
        protected TransportFeatures features() {
            return QUICK.toBuilder().keyOrdering(false).build();
        }
    }

    /** Drops every transport option before subscribing, so options meant for it silently do nothing. */
    static class OptionDroppingSuite extends TransportConformanceSuite {
        @Override
        protected Transport createTransport() {
            InMemoryTransport real = InMemoryTransport.create();
            KeyOrderedSubscriber dropping = (options, handler) -> {
                SubscriptionOptions.Builder b = SubscriptionOptions.builder(options.topic(), options.group())
                        .concurrency(options.concurrency()).maxInFlight(options.maxInFlight())
                        .failureRedeliveryDelay(options.failureRedeliveryDelay())
                        .shutdownTimeout(options.shutdownTimeout()).ordering(options.ordering());
                return real.subscriber().subscribe(b.build(), handler);
            };
            return new Wrapped(real, real.publisher(), dropping);
        }

        @Override
        protected TransportFeatures features() {
            return QUICK;
        }
    }

    private static class Wrapped implements Transport {
        private final Transport real;
        private final Publisher publisher;
        private final Subscriber subscriber;

        Wrapped(Transport real, Publisher publisher, Subscriber subscriber) {
            this.real = real;
            this.publisher = publisher;
            this.subscriber = subscriber;
        }

        @Override
        public Publisher publisher() {
            return publisher;
        }

        @Override
        public Subscriber subscriber() {
            return subscriber;
        }

        @Override
        public String name() {
            return "broken-" + real.name();
        }

        @Override
        public void close() {
            real.close();
        }
    }
}
