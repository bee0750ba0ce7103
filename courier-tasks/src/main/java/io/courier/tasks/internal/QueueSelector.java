package io.courier.tasks.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Decides in which order a fetch tries the queues. Weighted: a random order where each queue comes
 * first with probability weight / total weight (Asynq's scheme: expand each queue by its weight,
 * shuffle, keep first occurrences). Strict: always by weight, highest first (ties by name).
 * Thread-safe (several fetcher threads share one).
 */
public final class QueueSelector {

    private final Map<String, Integer> weights;
    private final boolean strict;
    private final List<String> strictOrder;
    private final List<String> expanded;
    private final Random random;

    /** A selector over {@code weights} (all >= 1). */
    public QueueSelector(Map<String, Integer> weights, boolean strict, Random random) {
        this.weights = new LinkedHashMap<>(weights);
        this.strict = strict;
        this.random = random;
        List<String> order = new ArrayList<>(weights.keySet());
        order.sort(Comparator.<String>comparingInt(q -> -weights.get(q)).thenComparing(Comparator.naturalOrder()));
        this.strictOrder = List.copyOf(order);
        List<String> exp = new ArrayList<>();
        weights.forEach((q, w) -> {
            for (int i = 0; i < w; i++) {
                exp.add(q);
            }
        });
        this.expanded = List.copyOf(exp);
    }

    /** The queues in the order the next fetch should try them. */
    public List<String> nextOrder() {
        if (strict || weights.size() == 1) {
            return strictOrder;
        }
        List<String> shuffled = new ArrayList<>(expanded);
        Collections.shuffle(shuffled, random);
        return List.copyOf(new LinkedHashSet<>(shuffled));
    }

    /** All queue names. */
    public List<String> queues() {
        return strictOrder;
    }
}
