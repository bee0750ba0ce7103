package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.tasks.internal.FetchGate;
import io.courier.tasks.internal.QueueSelector;
import io.courier.tasks.memory.InMemoryTaskStore;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class FetcherTest {

    private final InMemoryTaskStore memory = InMemoryTaskStore.create();
    private final TaskStores.CallCounts calls = new TaskStores.CallCounts();
    private final TaskStore store = TaskStores.intercept(memory, calls::add);
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<ClaimedTask> dispatched = new ArrayList<>();

    private static Map<String, Integer> sixThreeOne() {
        Map<String, Integer> w = new LinkedHashMap<>();
        w.put("critical", 6);
        w.put("default", 3);
        w.put("low", 1);
        return w;
    }

    private void backlog(String queue, int n) {
        TaskClient client = TaskClient.create(memory);
        for (int i = 0; i < n; i++) {
            client.enqueue(Task.ofText("t", queue + i), TaskOptions.builder().queue(queue).build());
        }
    }

    private Fetcher fetcher(Map<String, Integer> weights, boolean strict, int batch) {
        return new Fetcher(store, new QueueSelector(weights, strict, new Random(11)), new FetchGate(1, batch),
                new Workers(batch), dispatched::add, running::get, "fetcher-test", Clock.systemUTC(),
                Duration.ofMinutes(1), Duration.ofMillis(50), batch);
    }

    private static Map<String, Long> byQueue(List<ClaimedTask> claimed) {
        return claimed.stream().collect(Collectors.groupingBy(c -> c.info().queue(), Collectors.counting()));
    }

    @Test
    void aBatchIsSharedByWeightWithOneClaimPerQueue() {
        backlog("critical", 20);
        backlog("default", 20);
        backlog("low", 20);
        Fetcher f = fetcher(sixThreeOne(), false, 10);

        List<ClaimedTask> claimed = f.fetch(10);   // the first deck of 10 cards: exactly 6, 3, 1

        assertThat(byQueue(claimed)).containsOnly(Map.entry("critical", 6L), Map.entry("default", 3L), Map.entry("low", 1L));
        assertThat(calls.of("claim")).isEqualTo(3);
    }

    @Test
    void slotsOfAQueueWithoutWorkGoToTheOthers() {
        backlog("critical", 2);
        backlog("default", 30);
        Fetcher f = fetcher(sixThreeOne(), false, 10);

        List<ClaimedTask> claimed = f.fetch(10);

        assertThat(claimed).hasSize(10);
        assertThat(byQueue(claimed)).containsOnly(Map.entry("critical", 2L), Map.entry("default", 8L));
        // critical and low, found short, are not asked again in the same fetch
        assertThat(calls.of("claim")).isLessThanOrEqualTo(4);
    }

    @Test
    void aPausedQueueGivesItsSlotsAway() {
        backlog("critical", 20);
        backlog("default", 20);
        memory.setPaused("critical", true);
        Fetcher f = fetcher(sixThreeOne(), false, 10);

        assertThat(byQueue(f.fetch(10))).containsOnly(Map.entry("default", 10L));
    }

    @Test
    void strictPriorityTakesFromALowerQueueOnlyWhatTheHigherOnesLack() {
        backlog("critical", 2);
        backlog("default", 3);
        backlog("low", 20);
        Fetcher f = fetcher(sixThreeOne(), true, 8);

        List<ClaimedTask> claimed = f.fetch(8);

        assertThat(claimed).extracting(c -> c.info().queue())
                .containsExactly("critical", "critical", "default", "default", "default", "low", "low", "low");
    }

    @Test
    void aStoppedServerClaimsNothingMore() {
        backlog("critical", 20);
        running.set(false);

        assertThat(fetcher(sixThreeOne(), false, 10).fetch(10)).isEmpty();
        assertThat(calls.of("claim")).isZero();
    }

    @Test
    void theLoopHandsClaimedTasksToTheProcessorAndGivesBackUnusedSlots() throws Exception {
        backlog("default", 3);
        Workers workers = new Workers(8);
        List<ClaimedTask> handed = new java.util.concurrent.CopyOnWriteArrayList<>();
        Fetcher f = new Fetcher(store, new QueueSelector(Map.of("default", 1), false, new Random(1)), new FetchGate(1, 8),
                workers, handed::add, running::get, "fetcher-test", Clock.systemUTC(), Duration.ofMinutes(1),
                Duration.ofMillis(20), 8);
        Thread loop = new Thread(f::loop);
        loop.start();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> handed.size() == 3);
        running.set(false);
        loop.join(10_000);

        assertThat(loop.isAlive()).isFalse();
        // three slots are held by the dispatched tasks (nobody ran them), the other five are free
        assertThat(workers.take(8, Duration.ZERO)).isEqualTo(5);
    }
}
