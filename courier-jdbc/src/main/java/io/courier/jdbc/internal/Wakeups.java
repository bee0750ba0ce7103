package io.courier.jdbc.internal;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Routes "new messages on topic X" to the subscriptions of this transport that consume X, so a
 * consumer in the same JVM as the publisher does not wait for its poll interval. Thread-safe.
 */
public final class Wakeups {

    private final Map<String, Set<Signal>> byTopic = new ConcurrentHashMap<>();

    /** Starts waking {@code signal} for {@code topic}. */
    public void register(String topic, Signal signal) {
        byTopic.computeIfAbsent(topic, k -> ConcurrentHashMap.newKeySet()).add(signal);
    }

    /** Stops waking {@code signal}. */
    public void unregister(String topic, Signal signal) {
        Set<Signal> set = byTopic.get(topic);
        if (set != null) {
            set.remove(signal);
        }
    }

    /** Wakes the consumers of {@code topic}. */
    public void signal(String topic) {
        Set<Signal> set = byTopic.get(topic);
        if (set != null) {
            set.forEach(Signal::signal);
        }
    }

    /** Wakes every consumer (after a reconnect, when notifications may have been missed). */
    public void signalAll() {
        byTopic.values().forEach(set -> set.forEach(Signal::signal));
    }
}
