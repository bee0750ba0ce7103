package io.courier.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** SubscriptionOptions.executor: handlers run on the caller's executor, which the subscription never shuts down. */
class InMemoryExecutorTest {

    @Test
    void handlersRunOnTheCallersExecutorAndItOutlivesTheSubscription() throws Exception {
        AtomicInteger n = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(8, r -> new Thread(r, "mine-" + n.incrementAndGet()));
        try (InMemoryTransport transport = InMemoryTransport.create()) {
            Set<String> threads = ConcurrentHashMap.newKeySet();
            AtomicInteger handled = new AtomicInteger();
            SubscriptionOptions options = SubscriptionOptions.builder("exec", "g").concurrency(3).executor(pool).build();
            try (Subscription s = transport.subscriber().subscribe(options, d -> {
                threads.add(Thread.currentThread().getName());
                handled.incrementAndGet();
            })) {
                for (int i = 0; i < 50; i++) {
                    transport.publisher().publish("exec", Message.ofText("m" + i)).join();
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> handled.get() == 50);
            }
            assertThat(threads).isNotEmpty().allSatisfy(t -> assertThat(t).startsWith("mine-"));
            assertThat(threads.size()).isLessThanOrEqualTo(3);
            assertThat(pool.isShutdown()).isFalse();
            assertThat(pool.submit(() -> "still works").get()).isEqualTo("still works");
        } finally {
            pool.shutdownNow();
        }
    }
}
