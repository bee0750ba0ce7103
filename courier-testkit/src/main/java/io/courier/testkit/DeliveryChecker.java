package io.courier.testkit;

import io.courier.Delivery;
import io.courier.Message;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * Accounts for every message of a delivery test: which ids were sent (their publish completed), which
 * were received (their handler finished its work), and from those two what was
 * {@linkplain #lost() lost}, what arrived {@linkplain #unexpected() unexpected} and what arrived more
 * than once ({@linkplain #duplicates() duplicates}).
 *
 * <p>At-least-once delivery permits duplicates but never a loss, so a test ends with
 * {@link #assertComplete()}: lost must be 0, unexpected must be 0, and duplicates are reported
 * (printed) without failing. Tests where duplicates would be a bug add {@link #assertNoDuplicates()}.
 *
 * <pre>{@code
 * DeliveryChecker checker = new DeliveryChecker("orders");
 * subscriber.subscribe(topic, group, checker::received);
 * for (Message m : messages) {
 *     publisher.publish(topic, m).join();
 *     checker.sent(m);
 * }
 * await().until(checker::allReceived);
 * checker.assertComplete();
 * }</pre>
 *
 * <p>Thread-safe: handlers on many threads may record at once.
 */
public final class DeliveryChecker {

    private static final int IDS_SHOWN = 10;

    private final String name;
    private final Set<String> sent = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicInteger> received = new ConcurrentHashMap<>();

    /** A checker named {@code name} in reports and failures. */
    public DeliveryChecker(String name) {
        this.name = Objects.requireNonNull(name, "name");
    }

    /** The name shown in reports. */
    public String name() {
        return name;
    }

    /** Records that {@code message} was published (its publish future completed normally). */
    public DeliveryChecker sent(Message message) {
        return sent(message.id());
    }

    /** Records that the message with {@code id} was published. */
    public DeliveryChecker sent(String id) {
        sent.add(Objects.requireNonNull(id, "id"));
        return this;
    }

    /** Records that every message in {@code messages} was published. */
    public DeliveryChecker sentAll(Collection<Message> messages) {
        messages.forEach(this::sent);
        return this;
    }

    /**
     * Records one delivery of {@code delivery}'s message. Has the {@link io.courier.Handler} shape,
     * so {@code checker::received} is a handler that acknowledges everything.
     */
    public void received(Delivery delivery) {
        received(delivery.message().id());
    }

    /** Records one delivery of the message with {@code id}. */
    public void received(String id) {
        received.computeIfAbsent(Objects.requireNonNull(id, "id"), k -> new AtomicInteger()).incrementAndGet();
    }

    /** How many times the message with {@code id} was received so far. */
    public int timesReceived(String id) {
        AtomicInteger n = received.get(id);
        return n == null ? 0 : n.get();
    }

    /** Number of distinct ids sent. */
    public int sentCount() {
        return sent.size();
    }

    /** Number of distinct ids received. */
    public int receivedCount() {
        return received.size();
    }

    /** True when every sent id has been received at least once. */
    public boolean allReceived() {
        return received.keySet().containsAll(sent);
    }

    /** Sent ids never received, sorted. */
    public Set<String> lost() {
        return sent.stream().filter(id -> !received.containsKey(id)).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Received ids that were never sent, sorted. */
    public Set<String> unexpected() {
        return received.keySet().stream().filter(id -> !sent.contains(id)).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Ids received more than once, with how many times, sorted by id. */
    public Map<String, Integer> duplicates() {
        Map<String, Integer> dups = new TreeMap<>();
        received.forEach((id, n) -> {
            if (n.get() > 1) {
                dups.put(id, n.get());
            }
        });
        return dups;
    }

    /** A snapshot of the counts. */
    public Report report() {
        Set<String> lost = lost();
        Set<String> unexpected = unexpected();
        Map<String, Integer> duplicates = duplicates();
        int deliveries = received.values().stream().mapToInt(AtomicInteger::get).sum();
        return new Report(name, sent.size(), received.size(), deliveries, lost, unexpected, duplicates);
    }

    /**
     * Fails unless nothing was lost and nothing unexpected arrived; prints the report (with the
     * duplicates) to standard output either way.
     *
     * @return the report, for further checks
     * @throws AssertionError naming the lost and unexpected ids (the first few of each)
     */
    public Report assertComplete() {
        Report r = report();
        System.out.println(r);
        if (!r.lost().isEmpty() || !r.unexpected().isEmpty()) {
            throw new AssertionError(r.describeFailure());
        }
        return r;
    }

    /** Fails unless every sent id has been received (used while awaiting); names the first lost ids. */
    public void assertNoneLost() {
        Set<String> lost = lost();
        if (!lost.isEmpty()) {
            throw new AssertionError(name + ": " + lost.size() + " of " + sent.size() + " sent messages not received yet: "
                    + first(lost));
        }
    }

    /**
     * Fails if any message was received more than once.
     *
     * @throws AssertionError naming the duplicated ids and their counts
     */
    public void assertNoDuplicates() {
        Map<String, Integer> dups = duplicates();
        if (!dups.isEmpty()) {
            throw new AssertionError(name + ": " + dups.size() + " messages received more than once: " + first(dups));
        }
    }

    private static String first(Set<String> ids) {
        return ids.stream().limit(IDS_SHOWN).collect(Collectors.joining(", ", "[", ids.size() > IDS_SHOWN ? ", ...]" : "]"));
    }

    private static String first(Map<String, Integer> counts) {
        Map<String, Integer> shown = new LinkedHashMap<>();
        counts.entrySet().stream().limit(IDS_SHOWN).forEach(e -> shown.put(e.getKey(), e.getValue()));
        return shown + (counts.size() > IDS_SHOWN ? " ..." : "");
    }

    /**
     * What a {@link DeliveryChecker} saw.
     *
     * @param name       the checker's name
     * @param sent       distinct ids sent
     * @param received   distinct ids received
     * @param deliveries deliveries recorded in total, duplicates included
     * @param lost       ids sent but never received
     * @param unexpected ids received but never sent
     * @param duplicates ids received more than once, with their counts
     */
    public record Report(String name, int sent, int received, int deliveries, Set<String> lost, Set<String> unexpected,
                         Map<String, Integer> duplicates) {

        /** Copies the collections. */
        public Report {
            lost = Set.copyOf(lost);
            unexpected = Set.copyOf(unexpected);
            duplicates = Map.copyOf(duplicates);
        }

        String describeFailure() {
            StringBuilder b = new StringBuilder(name).append(": ");
            if (!lost.isEmpty()) {
                b.append(lost.size()).append(" of ").append(sent).append(" sent messages lost ")
                        .append(first(new TreeSet<>(lost))).append("; ");
            }
            if (!unexpected.isEmpty()) {
                b.append(unexpected.size()).append(" unexpected messages received ")
                        .append(first(new TreeSet<>(unexpected))).append("; ");
            }
            return b.append(this).toString();
        }

        /** One line: sent, received, lost, unexpected, duplicates. */
        @Override
        public String toString() {
            return "DeliveryChecker[" + name + "] sent=" + sent + " received=" + received + " deliveries=" + deliveries
                    + " lost=" + lost.size() + " unexpected=" + unexpected.size() + " duplicates=" + duplicates.size()
                    + (duplicates.isEmpty() ? "" : " " + first(new TreeMap<>(duplicates)));
        }
    }
}
