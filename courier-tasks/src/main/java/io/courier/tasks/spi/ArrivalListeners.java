package io.courier.tasks.spi;

import java.time.Instant;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * For {@link TaskArrivals} implementations: the subscribers of one store and the text form of an
 * announcement, so that every store speaks the same short messages on its channel ({@code r<count>}:
 * that many tasks are ready; {@code s<epoch millis>}: a task is scheduled for then).
 *
 * <p>Thread-safe. Delivery calls each listener subscribed to the queue on the calling thread; a
 * listener that throws is logged and the others are still called.
 */
public final class ArrivalListeners {

    private static final Logger log = LoggerFactory.getLogger(ArrivalListeners.class);

    private final CopyOnWriteArrayList<Entry> entries = new CopyOnWriteArrayList<>();

    /**
     * Adds {@code listener} for {@code queues}.
     *
     * @return the subscription, which removes it again
     */
    public TaskArrivals.Subscription add(Collection<String> queues, ArrivalListener listener) {
        Entry e = new Entry(Set.copyOf(queues), Objects.requireNonNull(listener, "listener"));
        entries.add(e);
        return () -> entries.remove(e);
    }

    /** True when nobody is subscribed. */
    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** Every queue somebody is subscribed to, sorted. */
    public Set<String> queues() {
        Set<String> all = new TreeSet<>();
        entries.forEach(e -> all.addAll(e.queues));
        return all;
    }

    /** Tells the subscribers of {@code queue} that {@code count} tasks are ready. */
    public void ready(String queue, int count) {
        each(queue, l -> l.ready(queue, count));
    }

    /** Tells the subscribers of {@code queue} that a task is due at {@code dueAt}. */
    public void scheduled(String queue, Instant dueAt) {
        each(queue, l -> l.scheduled(queue, dueAt));
    }

    /** Tells the subscribers of {@code queue} that its announcements may have been lost. */
    public void missed(String queue) {
        each(queue, ArrivalListener::missed);
    }

    /** Tells every subscriber that announcements may have been lost. */
    public void missed() {
        for (Entry e : entries) {
            safely(e, ArrivalListener::missed);
        }
    }

    /**
     * Delivers one announcement in text form ({@link #readyMessage}, {@link #scheduledMessage}) for
     * {@code queue}. A message this version cannot read (a newer writer) counts as
     * {@link ArrivalListener#missed() missed}: the subscribers look for work once.
     */
    public void deliver(String queue, String message) {
        long n = message.length() > 1 ? parse(message.substring(1)) : -1;
        if (n >= 0 && message.charAt(0) == 'r') {
            ready(queue, (int) Math.min(Integer.MAX_VALUE, Math.max(1, n)));
        } else if (n >= 0 && message.charAt(0) == 's') {
            scheduled(queue, Instant.ofEpochMilli(n));
        } else {
            log.debug("unknown task announcement '{}' for queue '{}'; looking for work once", message, queue);
            missed(queue);
        }
    }

    /** The text form of "{@code count} tasks are ready". */
    public static String readyMessage(int count) {
        return "r" + count;
    }

    /** The text form of "a task is scheduled for {@code dueAt}". */
    public static String scheduledMessage(Instant dueAt) {
        return "s" + dueAt.toEpochMilli();
    }

    private static long parse(String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void each(String queue, java.util.function.Consumer<ArrivalListener> call) {
        for (Entry e : entries) {
            if (e.queues.contains(queue)) {
                safely(e, call);
            }
        }
    }

    private static void safely(Entry e, java.util.function.Consumer<ArrivalListener> call) {
        try {
            call.accept(e.listener);
        } catch (RuntimeException ex) {
            log.warn("task arrival listener {} failed", e.listener, ex);
        }
    }

    private record Entry(Set<String> queues, ArrivalListener listener) {
    }
}
