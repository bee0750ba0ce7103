package io.courier.jdbc.internal;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Routes "new messages on topic X" to the subscriptions of this transport that consume X, so a
 * consumer in the same JVM as the publisher does not wait for its poll interval. Thread-safe.
 */
public final class Wakeups {

    private final Map<String, Set<Runnable>> byTopic = new ConcurrentHashMap<>();

    /** Starts calling {@code onNewMessages} (quick, never throwing) when {@code topic} has new messages. */
    public void register(String topic, Runnable onNewMessages) {
        byTopic.computeIfAbsent(topic, k -> ConcurrentHashMap.newKeySet()).add(onNewMessages);
    }

    /** Stops calling {@code onNewMessages}. */
    public void unregister(String topic, Runnable onNewMessages) {
        Set<Runnable> set = byTopic.get(topic);
        if (set != null) {
            set.remove(onNewMessages);
        }
    }

    /** Wakes the consumers of {@code topic}. */
    public void signal(String topic) {
        Set<Runnable> set = byTopic.get(topic);
        if (set != null) {
            set.forEach(Runnable::run);
        }
    }

    /** Wakes every consumer (after a reconnect, when notifications may have been missed). */
    public void signalAll() {
        byTopic.values().forEach(set -> set.forEach(Runnable::run));
    }
}
