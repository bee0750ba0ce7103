package io.courier.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** A broken pipeline fails its phase promptly, with its cause, and leaves no publisher running. */
class DriverTest {

    private static final int PUBLISHERS = 4;
    /** Far longer than the tests may take: a phase must not wait for its end when a publisher failed. */
    private static final int PHASE_SECONDS = 60;

    /** Publishes nothing anywhere; the third publish fails, every other one after the first two blocks until interrupted. */
    private static final class FailingPipeline implements Pipeline {
        final AtomicInteger publishes = new AtomicInteger();
        final CountDownLatch never = new CountDownLatch(1);

        @Override
        public void start(Consumer<byte[]> onMessage) {
        }

        @Override
        public void publish(List<byte[]> batch) throws Exception {
            int n = publishes.incrementAndGet();
            if (n == 3) {
                throw new IOException("boom");
            }
            if (n > 3) {
                never.await();
            }
        }

        @Override
        public void close() {
        }
    }

    private static Scenario scenario(FailingPipeline p) {
        return new Scenario("failing", "fails on the third publish", "none", 16, PUBLISHERS, 10, runId -> p, runId -> p);
    }

    private static long publisherThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("bench-publisher") && t.isAlive())
                .count();
    }

    @Test
    void throughputPhaseFailsWithThePublishersCauseAndStopsTheOthers() {
        FailingPipeline p = new FailingPipeline();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                assertThatThrownBy(() -> Driver.throughput(scenario(p), scenario(p).courier(), PHASE_SECONDS))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("a publisher failed")
                        .hasRootCauseInstanceOf(IOException.class)
                        .hasRootCauseMessage("boom"));
        await().atMost(Duration.ofSeconds(10)).until(() -> publisherThreads() == 0);
    }

    @Test
    void latencyPhaseFailsWithThePublishersCauseAndStopsTheOthers() {
        FailingPipeline p = new FailingPipeline();
        assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                assertThatThrownBy(() -> Driver.latency(scenario(p), scenario(p).courier(), PHASE_SECONDS, 1000))
                        .isInstanceOf(IllegalStateException.class)
                        .hasRootCauseMessage("boom"));
        await().atMost(Duration.ofSeconds(10)).until(() -> publisherThreads() == 0);
    }

    @Test
    void aPublishOnlyPhaseWaitsForNoConsumerAndCountsWhatWasPublished() {
        AtomicInteger messages = new AtomicInteger();
        Pipeline p = new Pipeline() {
            @Override
            public void start(Consumer<byte[]> onMessage) {
                // consumes nothing
            }

            @Override
            public void publish(List<byte[]> batch) {
                messages.addAndGet(batch.size());
            }

            @Override
            public void close() {
            }
        };
        Scenario s = new Scenario("publish-only", "never consumes", "none", 16, 2, 10, runId -> p, runId -> p, 0, null, true);

        Driver.Throughput t = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> Driver.throughput(s, s.courier(), 1));

        assertThat(t.published()).isPositive().isEqualTo(messages.get());
        assertThat(t.publishPerSec()).isPositive().isEqualTo(t.endToEndPerSec());
    }

    @Test
    void publisherThreadsAreDaemons() throws Exception {
        CountDownLatch publishing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger daemons = new AtomicInteger();
        Pipeline p = new Pipeline() {
            @Override
            public void start(Consumer<byte[]> onMessage) {
            }

            @Override
            public void publish(List<byte[]> batch) throws Exception {
                if (Thread.currentThread().isDaemon()) {
                    daemons.incrementAndGet();
                }
                publishing.countDown();
                release.await();
                throw new IOException("done");
            }

            @Override
            public void close() {
            }
        };
        Scenario s = new Scenario("daemon", "checks its publisher threads", "none", 16, 1, 1, runId -> p, runId -> p);
        Thread phase = new Thread(() -> {
            try {
                Driver.throughput(s, s.courier(), PHASE_SECONDS);
            } catch (Exception expected) {
                // the publish fails by design
            }
        });
        phase.start();
        publishing.await();
        release.countDown();
        phase.join(20_000);
        assertThat(phase.isAlive()).isFalse();
        assertThat(daemons.get()).isEqualTo(1);
    }
}
