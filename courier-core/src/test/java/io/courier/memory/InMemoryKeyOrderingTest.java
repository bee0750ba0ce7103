package io.courier.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InMemoryKeyOrderingTest {

    private static Message keyed(String key, String text) {
        return Message.builder().key(key).payload(text.getBytes()).build();
    }

    @Test
    void aFailingMessageHoldsBackItsKeyButNotOtherKeys() {
        try (InMemoryTransport t = InMemoryTransport.create()) {
            List<String> handled = new CopyOnWriteArrayList<>();
            AtomicBoolean failedOnce = new AtomicBoolean();
            t.subscriber().subscribe(SubscriptionOptions.builder("orders", "g").concurrency(4)
                    .failureRedeliveryDelay(Duration.ofMillis(300)).build(), d -> {
                String text = d.message().payloadAsText();
                handled.add(text);
                if (text.equals("a1") && failedOnce.compareAndSet(false, true)) {
                    throw new IllegalStateException("first attempt of a1 fails");
                }
            });
            t.publisher().publishAll("orders", List.of(keyed("a", "a1"), keyed("a", "a2"), keyed("b", "b1"),
                    Message.ofText("unkeyed"))).join();

            await().atMost(Duration.ofSeconds(10)).until(() -> handled.size() == 5);
            assertThat(handled.stream().filter(s -> s.startsWith("a")).toList()).containsExactly("a1", "a1", "a2");
            // b1 and the unkeyed message did not wait for a1's redelivery
            assertThat(handled.indexOf("b1")).isLessThan(handled.lastIndexOf("a1"));
            assertThat(handled.indexOf("unkeyed")).isLessThan(handled.lastIndexOf("a1"));
            await().atMost(Duration.ofSeconds(5)).until(() -> t.backlog("orders", "g") == 0);
        }
    }

    @Test
    void keysAreHandledInOrderOneAtATimeAcrossCompetingConsumers() {
        try (InMemoryTransport t = InMemoryTransport.create()) {
            Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
            Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
            AtomicBoolean overlapped = new AtomicBoolean();
            AtomicInteger total = new AtomicInteger();
            for (int consumer = 0; consumer < 2; consumer++) {
                t.subscriber().subscribe(SubscriptionOptions.builder("orders", "g").concurrency(4).build(), d -> {
                    String key = d.message().key().orElseThrow();
                    if (running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                        overlapped.set(true);
                    }
                    seen.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(Integer.parseInt(d.message().payloadAsText()));
                    Thread.yield();
                    running.get(key).decrementAndGet();
                    total.incrementAndGet();
                });
            }
            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                for (int k = 0; k < 3; k++) {
                    batch.add(keyed("k" + k, Integer.toString(i)));
                }
            }
            t.publisher().publishAll("orders", batch).join();

            await().atMost(Duration.ofSeconds(20)).until(() -> total.get() == 600);
            for (int k = 0; k < 3; k++) {
                assertThat(seen.get("k" + k)).as("order of k%d", k).isSorted().hasSize(200);
            }
            assertThat(overlapped).as("two messages of one key handled at once").isFalse();
        }
    }
}
