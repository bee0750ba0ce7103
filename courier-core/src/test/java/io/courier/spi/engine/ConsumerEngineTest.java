package io.courier.spi.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Handler;
import io.courier.Message;
import io.courier.SubscriptionOptions;
import io.courier.spi.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ConsumerEngineTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final EngineTuning FAST = EngineTuning.defaults().withMaxWait(Duration.ofMillis(20))
            .withBackoff(Duration.ofMillis(1), Duration.ofMillis(4));

    private final FakeSource source = new FakeSource();
    private final List<ConsumerEngine<Integer>> engines = new ArrayList<>();

    @AfterEach
    void closeAll() {
        engines.forEach(e -> e.close(Duration.ofSeconds(1)));
    }

    private ConsumerEngine<Integer> start(SubscriptionOptions options, Handler handler, EngineTuning tuning) {
        ConsumerEngine<Integer> e = ConsumerEngine.builder(options, handler, source).tuning(tuning).build();
        engines.add(e);
        return e.start();
    }

    private static SubscriptionOptions opts(int concurrency, int maxInFlight) {
        return SubscriptionOptions.builder("t", "g").concurrency(concurrency).maxInFlight(maxInFlight).build();
    }

    private static int id(io.courier.Delivery d) {
        return Integer.parseInt(new String(d.message().payload()).substring(1));
    }

    @Test
    void handlesEveryRecordOnceAndSettlesItsOutcomeInBatches() {
        source.add(0, 1_000, i -> null);
        start(opts(4, 100), d -> {
            if (id(d) % 10 == 0) {
                d.retryAfter(Duration.ofSeconds(3), Map.of());
            }
        }, FAST);

        await().atMost(WAIT).until(() -> source.settled.size() == 1_000);
        assertThat(new HashSet<>(source.settledIds())).hasSize(1_000);
        assertThat(source.settled).filteredOn(s -> s.outcome() instanceof Outcome.Retry).hasSize(100)
                .allSatisfy(s -> assertThat(((Outcome.Retry) s.outcome()).delay()).isEqualTo(Duration.ofSeconds(3)));
        assertThat(source.exchanges.get()).as("settlements travel in batches, not one exchange each").isLessThan(500);
    }

    @Test
    void neverHoldsMoreThanMaxInFlightAndNeverRunsMoreThanConcurrency() throws Exception {
        source.add(0, 300, i -> null);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        CountDownLatch gate = new CountDownLatch(1);
        ConsumerEngine<Integer> e = start(opts(3, 10), d -> {
            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            try {
                gate.await();
            } finally {
                running.decrementAndGet();
            }
        }, FAST);

        await().atMost(WAIT).until(() -> running.get() == 3);
        await().during(Duration.ofMillis(200)).atMost(WAIT).until(() -> e.inFlight() == 10);
        assertThat(source.asked).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(10));
        gate.countDown();
        await().atMost(WAIT).until(() -> source.settled.size() == 300);
        assertThat(maxRunning.get()).isEqualTo(3);
    }

    @Test
    void aRecordWithoutLaneFetchedWhileAnotherHandlerBlocksStartsOnAFreeThread() throws Exception {
        source.add(0, 1, i -> null);
        AtomicInteger running = new AtomicInteger();
        CountDownLatch gate = new CountDownLatch(1);
        start(opts(4, 10), d -> {
            running.incrementAndGet();
            try {
                gate.await();
            } finally {
                running.decrementAndGet();
            }
        }, FAST);
        await().atMost(WAIT).until(() -> running.get() == 1);

        source.add(1, 2, i -> null);   // fetched while the first handler blocks its thread
        await("later records run beside the blocked one, up to concurrency").atMost(WAIT).until(() -> running.get() == 3);
        gate.countDown();
        await().atMost(WAIT).until(() -> source.settled.size() == 3);
    }

    @Test
    void lanesWaitingForAThreadStartWhenALaneRunsOutOfRecords() {
        source.add(0, 3, i -> "k" + i);   // three lanes of one record each, one thread
        start(opts(1, 10), d -> { }, FAST);

        await("every lane ran").atMost(WAIT).until(() -> source.settled.size() == 3);
    }

    @Test
    void recordsOfOneLaneRunOneAtATimeInFetchOrder() {
        source.add(0, 600, i -> "k" + (i % 3));
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        Set<String> busy = ConcurrentHashMap.newKeySet();
        List<String> overlaps = new CopyOnWriteArrayList<>();
        start(opts(8, 200), d -> {
            int i = id(d);
            String lane = "k" + (i % 3);
            if (!busy.add(lane)) {
                overlaps.add(lane);
            }
            seen.computeIfAbsent(lane, k -> Collections.synchronizedList(new ArrayList<>())).add(i);
            Thread.yield();
            busy.remove(lane);
        }, FAST.withLaneTurn(4));

        await().atMost(WAIT).until(() -> source.settled.size() == 600);
        assertThat(overlaps).isEmpty();
        for (int k = 0; k < 3; k++) {
            List<Integer> ids = seen.get("k" + k);
            assertThat(ids).hasSize(200).isSorted();
        }
    }

    @Test
    void aCallersExecutorRunsHandlersButConcurrencyStillBounds() {
        ExecutorService pool = Executors.newCachedThreadPool();
        try {
            source.add(0, 200, i -> null);
            AtomicInteger running = new AtomicInteger();
            AtomicInteger maxRunning = new AtomicInteger();
            Set<String> threads = ConcurrentHashMap.newKeySet();
            ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(2, 50), d -> {
                maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                threads.add(Thread.currentThread().getName());
                try {
                    Thread.sleep(1);
                } finally {
                    running.decrementAndGet();
                }
            }, source).executor(pool).tuning(FAST).build();
            engines.add(e);
            e.start();
            await().atMost(WAIT).until(() -> source.settled.size() == 200);
            assertThat(maxRunning.get()).isLessThanOrEqualTo(2);
            assertThat(threads).allSatisfy(n -> assertThat(n).startsWith("pool-"));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aRecordThatArrivedEarlyWaitsUntilDueAndHoldsItsLane() {
        long due = System.currentTimeMillis() + 1_500;
        source.add(Fetched.of(1, Message.ofText("m1"), 1).inLane("a").notBefore(due));
        source.add(Fetched.of(2, Message.ofText("m2"), 1).inLane("a"));
        source.add(Fetched.of(3, Message.ofText("m3"), 1).inLane("b"));
        Map<Integer, Long> startedAt = new ConcurrentHashMap<>();
        start(opts(4, 10), d -> startedAt.put(id(d), System.currentTimeMillis()), FAST);

        await().atMost(WAIT).until(() -> source.settled.size() == 3);
        assertThat(startedAt.get(1)).isGreaterThanOrEqualTo(due);
        assertThat(startedAt.get(2)).as("its lane waited behind it").isGreaterThanOrEqualTo(startedAt.get(1));
        assertThat(startedAt.get(3)).as("other lanes did not wait").isLessThan(startedAt.get(1));
    }

    @Test
    void aSourceThatFetchesOnTheHandlerThreadsPutsARecordThatArrivedEarlyAsideWithoutHoldingAThread() {
        source.onWorker = true;
        source.pull = true;
        MutableClock clock = new MutableClock(1_000_000);
        source.add(Fetched.of(1, Message.ofText("m1"), 1).notBefore(1_001_000));
        source.add(Fetched.of(2, Message.ofText("m2"), 1));
        source.add(Fetched.of(3, Message.ofText("m3"), 1));
        List<Integer> started = new CopyOnWriteArrayList<>();
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(1, 4), d -> started.add(id(d)), source)
                .clock(clock).tuning(FAST).build();
        engines.add(e);
        e.start();

        await().atMost(WAIT).until(() -> source.settled.size() == 2 && e.inFlight() == 1);   // the early one is held
        assertThat(started).as("the only handler thread did not wait for the early record").containsExactly(2, 3);
        clock.advance(Duration.ofSeconds(1));
        await().atMost(WAIT).until(() -> source.settled.size() == 3);
        assertThat(started).containsExactly(2, 3, 1);
        assertThat(e.inFlight()).isZero();
    }

    @Test
    void closeFinishesRunningHandlersSettlesThemAndGivesBackTheRest() throws Exception {
        source.add(0, 50, i -> null);
        CountDownLatch inside = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        ConsumerEngine<Integer> e = start(opts(2, 50), d -> {
            inside.countDown();
            release.await();
        }, FAST);
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();

        Thread closer = new Thread(() -> e.close(Duration.ofSeconds(10)));
        closer.start();
        await().atMost(WAIT).until(() -> !e.isRunning());
        release.countDown();
        closer.join(10_000);

        assertThat(closer.isAlive()).isFalse();
        assertThat(source.settledIds()).hasSize(2).allSatisfy(i -> assertThat(source.releasedIds()).doesNotContain(i));
        assertThat(source.settled).allSatisfy(s -> assertThat(s.outcome()).isInstanceOf(Outcome.Ack.class));
        Set<Integer> all = new HashSet<>(source.settledIds());
        all.addAll(source.releasedIds());
        Set<Integer> fetched = new HashSet<>(all);
        assertThat(fetched).as("every fetched record is settled or given back").hasSize(50 - source.available.size());
        assertThat(source.closed).isTrue();
    }

    @Test
    void closeInterruptsHandlersPastTheTimeoutAndLeavesThemUnsettled() {
        source.add(0, 1, i -> null);
        List<Integer> closedEvents = new CopyOnWriteArrayList<>();
        CountDownLatch inside = new CountDownLatch(1);
        AtomicInteger interrupted = new AtomicInteger();
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(1, 10), d -> {
            inside.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException ie) {
                interrupted.incrementAndGet();
                throw ie;
            }
        }, source).tuning(FAST).listener(new EngineListener() {
            @Override
            public void closed(String name, int released, int abandoned) {
                closedEvents.add(abandoned);
            }
        }).build().start();
        await().atMost(WAIT).until(() -> inside.getCount() == 0);

        e.close(Duration.ofMillis(100));

        assertThat(interrupted.get()).isEqualTo(1);
        assertThat(source.settled).isEmpty();
        assertThat(source.releasedIds()).containsExactly(0);
        assertThat(closedEvents).containsExactly(1);
    }

    @Test
    void leasesAreExtendedOnTheClockAndALostLeaseDropsAnUnstartedRecord() {
        MutableClock clock = new MutableClock(1_000_000);
        source.leases = true;
        long lease = 30_000;
        source.add(Fetched.of(1, Message.ofText("m1"), 1).inLane("a").leasedUntil(clock.millis() + lease));
        source.add(Fetched.of(2, Message.ofText("m2"), 1).inLane("a").leasedUntil(clock.millis() + lease));
        source.extendAnswer = f -> f.record() == 1;   // record 2 was taken by another consumer meanwhile
        CountDownLatch first = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> handled = new CopyOnWriteArrayList<>();
        List<Integer> lostEvents = new CopyOnWriteArrayList<>();
        ConsumerEngine<Integer> e = ConsumerEngine.builder(SubscriptionOptions.builder("t", "g").concurrency(1)
                        .leaseTimeout(Duration.ofMillis(lease)).build(), d -> {
                    handled.add(id(d));
                    first.countDown();
                    release.await();
                }, source).clock(clock).tuning(FAST).listener(new EngineListener() {
                    @Override
                    public void leasesLost(String name, int count) {
                        lostEvents.add(count);
                    }
                }).build();
        engines.add(e);
        e.start();
        await().atMost(WAIT).until(() -> first.getCount() == 0);
        assertThat(source.extendedUntil).isEmpty();

        clock.advance(Duration.ofMillis(lease / 3 + 1));   // a third of the lease used: due for extension

        await().atMost(WAIT).until(() -> !source.extendedUntil.isEmpty());
        assertThat(source.extendedUntil.get(0)).isEqualTo(clock.millis() + lease);
        assertThat(lostEvents).containsExactly(1);
        release.countDown();
        await().atMost(WAIT).until(() -> source.settled.size() == 1);
        assertThat(handled).containsExactly(1);
        assertThat(e.inFlight()).isZero();
    }

    @Test
    void aRecordWhoseLeaseRanOutBeforeItStartedIsLeftAlone() {
        MutableClock clock = new MutableClock(1_000_000);
        source.add(Fetched.of(1, Message.ofText("m1"), 1).leasedUntil(clock.millis() - 1));
        source.add(Fetched.of(2, Message.ofText("m2"), 1).leasedUntil(clock.millis() + 30_000));
        List<Integer> handled = new CopyOnWriteArrayList<>();
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(1, 10), d -> handled.add(id(d)), source)
                .clock(clock).tuning(FAST).build();
        engines.add(e);
        e.start();
        await().atMost(WAIT).until(() -> source.settled.size() == 1);
        assertThat(handled).containsExactly(2);
        await().atMost(WAIT).until(() -> e.inFlight() == 0);
    }

    @Test
    void aFailingBrokerIsRetriedWithBackoffAndNoSettlementIsLost() {
        List<String> events = new CopyOnWriteArrayList<>();
        source.add(0, 20, i -> null);
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(2, 20), d -> {
            if (id(d) == 19) {
                source.failuresLeft.set(5);   // the broker goes away while settlements are pending
            }
        }, source).tuning(FAST).listener(new EngineListener() {
            @Override
            public void fetchFailed(String name, Throwable error, Duration backoff) {
                events.add("failed " + backoff.toMillis());
            }

            @Override
            public void recovered(String name, Duration downtime) {
                events.add("recovered");
            }
        }).build();
        engines.add(e);
        e.start();

        await().atMost(WAIT).until(() -> source.settled.size() == 20);
        assertThat(new HashSet<>(source.settledIds())).hasSize(20);
        assertThat(events).startsWith("failed 1", "failed 2", "failed 4", "failed 4", "failed 4").endsWith("recovered");
    }

    @Test
    void sourcesThatSettleOnTheWorkerAreCalledOnTheHandlersThread() {
        source.onWorker = true;
        source.add(0, 100, i -> null);
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(2, 10), d -> { }, source).name("eng")
                .tuning(FAST).build();
        engines.add(e);
        e.start();
        await().atMost(WAIT).until(() -> source.settled.size() == 100);
        assertThat(source.settleThreads).allSatisfy(n -> assertThat(n).startsWith("eng-"));
        await().atMost(WAIT).until(() -> e.inFlight() == 0);
    }

    @Test
    void anInPlaceRetryRunsAgainInItsLaneBeforeTheLaneMovesOn() {
        source.add(0, 3, i -> "k");
        source.inPlace = s -> Duration.ofMillis(20);
        Map<Integer, Integer> failuresLeft = new HashMap<>(Map.of(0, 2));
        List<String> calls = new CopyOnWriteArrayList<>();
        start(opts(4, 10), d -> {
            calls.add(id(d) + "@" + d.attempt());
            synchronized (failuresLeft) {
                int left = failuresLeft.getOrDefault(id(d), 0);
                if (left > 0) {
                    failuresLeft.put(id(d), left - 1);
                    throw new IllegalStateException("not yet");
                }
            }
        }, FAST);

        await().atMost(WAIT).until(() -> source.settled.size() == 3);
        assertThat(calls).containsExactly("0@1", "0@2", "0@3", "1@1", "2@1");
        assertThat(source.settled).allSatisfy(s -> assertThat(s.outcome()).isInstanceOf(Outcome.Ack.class));
    }

    @Test
    void aSourceCanTakeBackUnstartedRecordsAndWaitForRunningOnes() throws Exception {
        source.add(0, 10, i -> "k");
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ConsumerEngine<Integer> e = start(opts(1, 10), d -> {
            inside.countDown();
            release.await();
        }, FAST);
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        await().atMost(WAIT).until(() -> e.inFlight() == 10);

        List<Fetched<Integer>> taken = source.context.discardUnstarted(f -> f.record() >= 5);
        assertThat(taken).extracting(Fetched::record).containsExactlyInAnyOrder(5, 6, 7, 8, 9);
        assertThat(e.inFlight()).isEqualTo(5);
        assertThat(source.context.awaitHandled(f -> f.record() == 0, Duration.ofMillis(50))).isFalse();
        release.countDown();
        assertThat(source.context.awaitHandled(f -> f.record() == 0, WAIT)).isTrue();
        await().atMost(WAIT).until(() -> source.settled.size() == 5);
        assertThat(source.settledIds()).containsExactlyInAnyOrder(0, 1, 2, 3, 4);
    }

    @Test
    void helperFetchersJoinUnderABacklogAndNothingIsSettledTwiceOrLostAtClose() {
        source.add(0, 5_000, i -> null);
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(4, 500), d -> { }, source).name("multi")
                .tuning(FAST.withFetchBatch(50).withFetchers(3)).build();
        engines.add(e);
        e.start();
        await().atMost(WAIT).until(() -> source.settled.size() >= 2_500);
        e.close(Duration.ofSeconds(5));

        List<Integer> settledIds = source.settledIds();
        assertThat(new HashSet<>(settledIds)).hasSameSizeAs(settledIds);
        Set<Integer> accounted = new HashSet<>(settledIds);
        accounted.addAll(source.releasedIds());
        source.available.forEach(f -> accounted.add(f.record()));
        assertThat(accounted).as("every record settled, given back, or never fetched").hasSize(5_000);
        assertThat(source.exchangeThreads).as("helper fetchers ran").hasSizeGreaterThan(1);
    }

    @Test
    void aSourceThatFetchesOnTheHandlerThreadsIsDrainedByThemWithinTheBudget() throws Exception {
        source.onWorker = true;
        source.pull = true;
        source.add(0, 2_000, i -> null);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        Set<String> exchangeThreads = ConcurrentHashMap.newKeySet();
        ConsumerEngine<Integer> e = ConsumerEngine.builder(opts(3, 12), d -> {
            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            running.decrementAndGet();
        }, source).name("pull").tuning(FAST).build();
        engines.add(e);
        e.start();
        await().atMost(WAIT).until(() -> source.settled.size() == 2_000);
        assertThat(new HashSet<>(source.settledIds())).hasSize(2_000);
        assertThat(maxRunning.get()).isLessThanOrEqualTo(3);
        assertThat(source.asked).allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(4));
        assertThat(source.exchangeThreads).allSatisfy(n -> assertThat(n).startsWith("pull-"));

        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ConsumerEngine<Integer> blocked = ConsumerEngine.builder(opts(1, 4), d -> {
            inside.countDown();
            release.await();
        }, source).tuning(FAST).build();
        engines.add(blocked);
        e.close(Duration.ofSeconds(1));
        source.add(5_000, 4, i -> null);
        blocked.start();
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        Thread closer = new Thread(() -> blocked.close(Duration.ofSeconds(10)));
        closer.start();
        await().atMost(WAIT).until(() -> !blocked.isRunning());
        release.countDown();
        closer.join(10_000);
        assertThat(source.releasedIds()).containsExactly(5_001, 5_002, 5_003);
    }

    @Test
    void aSourceWithAKeepAliveIntervalIsCalledWhileTheBudgetIsUsedUpAndWhileClosing() throws Exception {
        source.onWorker = true;
        source.keepAlive = Duration.ofMillis(10);
        source.add(0, 2, i -> null);
        CountDownLatch inside = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        ConsumerEngine<Integer> e = start(opts(2, 2), d -> {
            inside.countDown();
            release.await();
        }, FAST);
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        int before = source.idleExchanges.get();
        await().atMost(WAIT).until(() -> source.idleExchanges.get() >= before + 5);
        assertThat(e.inFlight()).as("keep-alive calls fetch nothing").isEqualTo(2);

        Thread closer = new Thread(() -> e.close(WAIT));
        closer.start();
        await().atMost(WAIT).until(() -> !e.isRunning());
        int closing = source.idleExchanges.get();
        await().atMost(WAIT).until(() -> source.idleExchanges.get() >= closing + 3);
        release.countDown();
        closer.join(WAIT.toMillis());
        assertThat(source.closed).isTrue();
        assertThat(source.settledIds()).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void withoutAKeepAliveIntervalAFullBudgetMeansNoCalls() throws Exception {
        source.onWorker = true;
        source.add(0, 2, i -> null);
        CountDownLatch inside = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        start(opts(2, 2), d -> {
            inside.countDown();
            release.await();
        }, FAST);
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        int before = source.exchanges.get();
        await().during(Duration.ofMillis(200)).atMost(WAIT).until(() -> source.exchanges.get() == before);
        release.countDown();
    }

    @Test
    void aRecordTheSourceNoLongerLetsStartIsSkippedNeitherSettledNorReleased() throws Exception {
        source.onWorker = true;
        source.add(0, 10, i -> "k");
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> handled = new CopyOnWriteArrayList<>();
        ConsumerEngine<Integer> e = start(opts(1, 10), d -> {
            handled.add(id(d));
            inside.countDown();
            release.await();
        }, FAST);
        assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
        await().atMost(WAIT).until(() -> e.inFlight() == 10);

        source.startable = f -> false;   // asked when a record is about to start, not when it was fetched
        release.countDown();

        await().atMost(WAIT).until(() -> e.inFlight() == 0);
        e.close(Duration.ofSeconds(1));
        assertThat(handled).containsExactly(0);
        assertThat(source.settledIds()).containsExactly(0);
        assertThat(source.released).isEmpty();
    }

    @Test
    void lanesThatOutnumberTheHandlersAllGetTheirTurn() {
        source.add(0, 10, i -> "k" + i);   // ten lanes of one record, two handlers, the budget held by them
        start(opts(2, 10), d -> Thread.yield(), FAST);

        await().atMost(WAIT).until(() -> source.settled.size() == 10);
        assertThat(source.settledIds()).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    }

    @Test
    void aRecordWaitingForAnInPlaceRetryCanBeTakenBackAndNeverRunsAgain() {
        source.onWorker = true;
        source.add(0, 1, i -> "k");
        source.inPlace = s -> Duration.ofMillis(300);
        List<Integer> attempts = new CopyOnWriteArrayList<>();
        ConsumerEngine<Integer> e = start(opts(1, 10), d -> {
            attempts.add(d.attempt());
            throw new IllegalStateException("fails");
        }, FAST);
        await().atMost(WAIT).until(() -> attempts.size() == 1);
        await().atMost(WAIT).until(() -> !source.context.discardUnstarted(f -> true).isEmpty() || attempts.size() > 1);

        assertThat(attempts).as("taken back while it waited: the retry never ran").containsExactly(1);
        await().during(Duration.ofMillis(600)).atMost(WAIT).until(() -> attempts.size() == 1);
        assertThat(e.inFlight()).isZero();
        assertThat(source.settled).isEmpty();
    }
}
