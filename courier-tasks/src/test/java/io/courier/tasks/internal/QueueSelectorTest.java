package io.courier.tasks.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class QueueSelectorTest {

    private static Map<String, Integer> asynqExampleWeights() {
        Map<String, Integer> w = new LinkedHashMap<>();
        w.put("low", 1);
        w.put("critical", 6);
        w.put("default", 3);
        return w;
    }

    @Test
    void strictOrderIsByWeightHighestFirst() {
        QueueSelector s = new QueueSelector(asynqExampleWeights(), true, new Random(1));
        for (int i = 0; i < 10; i++) {
            assertThat(s.nextOrder()).containsExactly("critical", "default", "low");
        }
    }

    @Test
    void weightedOrderPutsEachQueueFirstInProportionToItsWeight() {
        QueueSelector s = new QueueSelector(asynqExampleWeights(), false, new Random(42));
        Map<String, Integer> first = new HashMap<>();
        int rounds = 20_000;
        for (int i = 0; i < rounds; i++) {
            List<String> order = s.nextOrder();
            assertThat(order).containsExactlyInAnyOrder("critical", "default", "low");
            first.merge(order.get(0), 1, Integer::sum);
        }
        assertThat(first.get("critical") / (double) rounds).isBetween(0.58, 0.62);
        assertThat(first.get("default") / (double) rounds).isBetween(0.28, 0.32);
        assertThat(first.get("low") / (double) rounds).isBetween(0.08, 0.12);
    }

    @Test
    void slotsFollowTheWeightsWithinOneDeckWhateverTheBatchSize() {
        QueueSelector s = new QueueSelector(asynqExampleWeights(), false, new Random(7));
        Map<String, Integer> counts = new HashMap<>();
        int[] batches = {1, 16, 3, 7, 2, 16, 5};
        int slots = 0;
        for (int round = 0; slots < 10_000; round++) {
            int batch = batches[round % batches.length];
            Map<String, Integer> plan = s.plan(batch);
            assertThat(plan.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(batch);
            plan.forEach((queue, n) -> counts.merge(queue, n, Integer::sum));
            slots += batch;
            // Exact per deck of 10 cards: never off by more than one deck's cards of a queue.
            for (Map.Entry<String, Integer> w : asynqExampleWeights().entrySet()) {
                double expected = slots * w.getValue() / 10.0;
                assertThat((double) counts.getOrDefault(w.getKey(), 0)).as("%s after %d slots", w.getKey(), slots)
                        .isBetween(expected - w.getValue(), expected + w.getValue());
            }
        }
    }

    @Test
    void weightedPlansDifferInOrderFromDeckToDeck() {
        QueueSelector s = new QueueSelector(asynqExampleWeights(), false, new Random(3));
        Map<String, Integer> firsts = new HashMap<>();
        for (int i = 0; i < 1000; i++) {
            firsts.merge(s.plan(10).keySet().iterator().next(), 1, Integer::sum);
        }
        assertThat(firsts).containsOnlyKeys("critical", "default", "low");
    }

    @Test
    void strictPlanGivesEverySlotToTheHighestQueue() {
        QueueSelector s = new QueueSelector(asynqExampleWeights(), true, new Random(1));
        assertThat(s.plan(16)).containsExactly(Map.entry("critical", 16));
        assertThat(new QueueSelector(Map.of("only", 1), false, new Random(1)).plan(5)).containsExactly(Map.entry("only", 5));
        assertThatThrownBy(() -> s.plan(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("slots must be >= 1, but was 0");
    }
}
