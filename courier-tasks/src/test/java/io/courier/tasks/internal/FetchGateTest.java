package io.courier.tasks.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class FetchGateTest {

    private static final Duration LONG = Duration.ofSeconds(30);
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        threads.shutdownNow();
    }

    /** Starts {@code n} fetchers waiting at {@code gate}; counts those woken by announced tasks. */
    private List<Future<Boolean>> waitingFetchers(FetchGate gate, int n, AtomicInteger woken) {
        List<Future<Boolean>> result = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            result.add(threads.submit(() -> {
                boolean byTasks = gate.await(LONG);
                if (byTasks) {
                    woken.incrementAndGet();
                }
                return byTasks;
            }));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.waiting() == n);
        return result;
    }

    /** Four fetchers of batch 16 wait; {@code ready} tasks are announced; exactly {@code woken} of them wake. */
    private FetchGate announceToFourWaiting(int ready, int woken) {
        FetchGate gate = new FetchGate(4, 16);
        AtomicInteger count = new AtomicInteger();
        waitingFetchers(gate, 4, count);

        gate.ready(ready);

        await().atMost(Duration.ofSeconds(5)).until(() -> count.get() == woken);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                .until(() -> count.get() == woken && gate.waiting() == 4 - woken);
        return gate;
    }

    @Test
    void oneReadyTaskWakesOneOfFourWaitingFetchers() {
        announceToFourWaiting(1, 1);
    }

    @Test
    void fortyReadyTasksWakeOneFetcherPerBatchOfSixteen() {
        FetchGate gate = announceToFourWaiting(40, 3);

        assertThat(gate.announced()).isZero();
    }

    @Test
    void tasksAnnouncedWhileNobodyWaitsAreTakenByTheNextFetcherThatWould() throws Exception {
        FetchGate gate = new FetchGate(2, 16);
        gate.ready(1);   // a fetcher was in the middle of a claim that could not see the task yet

        assertThat(gate.await(LONG)).isTrue();   // returns at once instead of waiting for the poll
        assertThat(gate.announced()).isZero();
    }

    @Test
    void aFetchThatBeginsTakesTheTasksAnnouncedBeforeIt() throws Exception {
        FetchGate gate = new FetchGate(2, 16);
        gate.ready(3);

        gate.fetching(16);   // this claim sees the three tasks

        assertThat(gate.announced()).isZero();
        assertThat(gate.await(Duration.ofMillis(20))).isFalse();   // no empty claim for tasks already taken
    }

    @Test
    void rememberedTasksAreCappedAtWhatAllFetchersTakeInOneRound() {
        FetchGate gate = new FetchGate(2, 16);

        gate.ready(1_000);

        assertThat(gate.announced()).isEqualTo(32);
    }

    @Test
    void withoutAnnouncementsAFetcherWaitsForThePollInterval() throws Exception {
        FetchGate gate = new FetchGate(1, 1);
        long start = System.nanoTime();

        assertThat(gate.await(Duration.ofMillis(100))).isFalse();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(100));
    }

    @Test
    void closeReleasesEveryWaitingFetcher() {
        FetchGate gate = new FetchGate(3, 1);
        AtomicInteger woken = new AtomicInteger();
        List<Future<Boolean>> fetchers = waitingFetchers(gate, 3, woken);

        gate.close();

        await().atMost(Duration.ofSeconds(5)).until(() -> fetchers.stream().allMatch(Future::isDone));
        assertThat(woken).hasValue(0);
    }

    @Test
    void rejectsNonsenseSizes() {
        assertThatThrownBy(() -> new FetchGate(0, 16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("fetchers and batch must be >= 1, but were 0 and 16");
    }
}
