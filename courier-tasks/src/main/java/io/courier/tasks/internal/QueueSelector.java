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
 * Decides which queue each worker slot is filled from.
 *
 * <p><b>Weighted</b> (the default): {@link #plan(int)} chooses the queue of every slot on its own,
 * by weight. The slots draw from a shuffled deck that holds each queue {@code weight} times (10 cards
 * for {@code critical 6, default 3, low 1}); when the deck is used up it is shuffled again. So while
 * every queue has work, each deck's worth of starts is exactly in proportion to the weights, in a
 * random order, whether a fetch fills 1 slot or 16, and however the fetches of several fetcher
 * threads interleave. (Before, one weighted draw chose the queue of a whole fetched batch, and over
 * 1,000 starts the shares of 6/3/1 swung to 67.7/24.1/8.2 %.) {@link #nextOrder()} gives the order in
 * which slots whose queue had no work try the others: a random order in which each queue comes first
 * with probability weight / total weight (Asynq's: expand each queue by its weight, shuffle, keep
 * first occurrences).
 *
 * <p><b>Strict</b>: every slot goes to the highest-weight queue (ties by name), and {@link #nextOrder()}
 * is always by weight, highest first: a lower queue is served only when the higher ones had nothing.
 *
 * <p>Thread-safe (the fetcher threads of a server share one).
 */
public final class QueueSelector {

    private final boolean strict;
    private final List<String> strictOrder;
    private final List<String> expanded;
    private final Random random;
    /** The deck of {@link #plan}: {@link #expanded}, shuffled; guarded by this. */
    private final List<String> deck;
    private int dealt;

    /** A selector over {@code weights} (all >= 1). */
    public QueueSelector(Map<String, Integer> weights, boolean strict, Random random) {
        if (weights.isEmpty()) {
            throw new IllegalArgumentException("weights must name at least one queue, but was empty");
        }
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
        this.deck = new ArrayList<>(exp);
        this.dealt = deck.size();   // shuffled before the first card is dealt
    }

    /**
     * The queues of the next {@code slots} worker slots, as how many slots each queue fills, in the
     * order the queues were first drawn: claim that many from each, and give the slots of a queue that
     * had fewer tasks to the others in {@link #nextOrder()}.
     *
     * @throws IllegalArgumentException if {@code slots} is below 1
     */
    public Map<String, Integer> plan(int slots) {
        if (slots < 1) {
            throw new IllegalArgumentException("slots must be >= 1, but was " + slots);
        }
        if (strict || strictOrder.size() == 1) {
            return Map.of(strictOrder.get(0), slots);
        }
        Map<String, Integer> plan = new LinkedHashMap<>();
        synchronized (deck) {
            for (int i = 0; i < slots; i++) {
                if (dealt == deck.size()) {
                    Collections.shuffle(deck, random);
                    dealt = 0;
                }
                plan.merge(deck.get(dealt++), 1, Integer::sum);
            }
        }
        return plan;
    }

    /** The queues in the order slots whose planned queue had no work should try them. */
    public List<String> nextOrder() {
        if (strict || strictOrder.size() == 1) {
            return strictOrder;
        }
        List<String> shuffled = new ArrayList<>(expanded);
        Collections.shuffle(shuffled, random);
        return List.copyOf(new LinkedHashSet<>(shuffled));
    }

    /** All queue names, highest weight first. */
    public List<String> queues() {
        return strictOrder;
    }
}
