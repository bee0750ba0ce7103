package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.Message;
import io.courier.StartPosition;
import io.courier.jdbc.internal.ClaimedRow;
import io.courier.jdbc.internal.JdbcSource;
import io.courier.jdbc.internal.Wakeups;
import io.courier.spi.Outcome;
import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Settled;
import io.courier.spi.engine.SourceContext;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SQL transport's {@link JdbcSource} as the consumer engine drives it, on an SQLite file: with a
 * poll interval far longer than each test, only wake-ups can make an idle exchange return. Every
 * exchange runs on one thread, as the engine's main fetch thread's do.
 */
class JdbcSourceTest {

    private static final Duration LONG = Duration.ofMinutes(5);

    @TempDir
    Path dir;

    private JdbcTransport transport;
    private final Wakeups wakeups = new Wakeups();
    private JdbcSource source;
    private final ExecutorService fetchThread = Executors.newSingleThreadExecutor();

    @BeforeEach
    void open() throws Exception {
        transport = JdbcTransport.sqlite(dir.resolve("courier.db")).pollInterval(LONG).build();
        long group = transport.database().inTransaction(c -> transport.store().registerGroup(c, "jobs", "workers",
                StartPosition.EARLIEST, transport.clock().millis()));
        source = new JdbcSource(transport.database(), transport.store(), group, "jobs", transport.clock(),
                Duration.ofSeconds(30), LONG, wakeups);
        source.start(new RunningContext());
    }

    @AfterEach
    void close() {
        fetchThread.shutdownNow();
        source.close();
        transport.close();
    }

    @Test
    void anIdleExchangeWaitsForAPublishWakeUpThenClaimsWhatWasPublished() throws Exception {
        assertThat(exchange(List.of(), 10)).isEmpty();   // idle from here on

        Future<List<Fetched<ClaimedRow>>> waiting = exchangeInBackground(List.of());
        transport.publisher().publish("jobs", Message.ofText("wake up")).join();
        wakeups.signal("jobs");

        List<Fetched<ClaimedRow>> got = waiting.get(10, TimeUnit.SECONDS);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).message().payloadAsText()).isEqualTo("wake up");
        assertThat(got.get(0).attempt()).isEqualTo(1);
        assertThat(got.get(0).leaseUntil()).isGreaterThan(transport.clock().millis());
    }

    @Test
    void wakeUpEndsAnIdleWaitWithoutAClaim() throws Exception {
        assertThat(exchange(List.of(), 10)).isEmpty();

        Future<List<Fetched<ClaimedRow>>> waiting = exchangeInBackground(List.of());
        source.wakeUp();

        assertThat(waiting.get(10, TimeUnit.SECONDS)).isEmpty();
    }

    @Test
    void anAcknowledgementIsWrittenAndAReleaseGivesTheMessageBackWithoutCountingTheAttempt() throws Exception {
        transport.publisher().publishAll("jobs", List.of(Message.ofText("done"), Message.ofText("given back"))).join();
        List<Fetched<ClaimedRow>> first = exchange(List.of(), 10);
        assertThat(first).hasSize(2);

        exchange(List.of(new Settled<>(first.get(0), new Outcome.Ack())), 0);
        source.release(List.of(first.get(1)));

        List<Fetched<ClaimedRow>> again = exchange(List.of(), 10);
        assertThat(again).extracting(f -> f.message().payloadAsText()).containsExactly("given back");
        assertThat(again.get(0).attempt()).isEqualTo(1);
    }

    private Future<List<Fetched<ClaimedRow>>> exchangeInBackground(List<Settled<ClaimedRow>> settled) {
        return fetchThread.submit(() -> source.exchange(settled, 10, LONG));
    }

    private List<Fetched<ClaimedRow>> exchange(List<Settled<ClaimedRow>> settled, int max) throws Exception {
        return fetchThread.submit(() -> source.exchange(settled, max, Duration.ZERO)).get(10, TimeUnit.SECONDS);
    }

    /** The engine's side as the source sees it while nothing is in flight. */
    private static final class RunningContext implements SourceContext<ClaimedRow> {
        @Override
        public List<Fetched<ClaimedRow>> discardUnstarted(Predicate<Fetched<ClaimedRow>> which) {
            return List.of();
        }

        @Override
        public boolean awaitHandled(Predicate<Fetched<ClaimedRow>> which, Duration timeout) {
            return true;
        }

        @Override
        public boolean running() {
            return true;
        }

        @Override
        public int inFlight() {
            return 0;
        }
    }
}
