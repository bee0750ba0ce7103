package io.courier.tasks.internal;

import static org.assertj.core.api.Assertions.assertThat;

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
}
