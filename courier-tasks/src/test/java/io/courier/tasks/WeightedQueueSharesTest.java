package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.tasks.memory.InMemoryTaskStore;
import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TaskStore;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Weighted queues share the worker slots by weight start by start, not fetch by fetch: with a backlog
 * in {@code critical 6, default 3, low 1}, every window of 1,000 consecutive starts is within 5
 * percentage points of 60/30/10 %. When one weighted draw decided a whole fetched batch of 16, the
 * shares of 1,000-start windows swung by about 6 points (one standard deviation) and this failed.
 */
class WeightedQueueSharesTest {

    private static final int WINDOW = 1000;
    private static final int WINDOWS = 5;
    private static final double TOLERANCE = 0.05;
    private static final Map<String, Integer> WEIGHTS = Map.of("critical", 6, "default", 3, "low", 1);

    @ParameterizedTest(name = "{0} fetcher(s)")
    @ValueSource(ints = {1, 4})
    void everyWindowOfAThousandStartsFollowsTheWeights(int fetchers) {
        InMemoryTaskStore memory = InMemoryTaskStore.create();
        TaskClient client = TaskClient.create(memory);
        // A backlog in every queue for all measured starts: critical needs 60% of 5,000 = 3,000.
        Map.of("critical", 3600, "default", 1800, "low", 600).forEach((queue, n) -> {
            for (int i = 0; i < n; i++) {
                client.enqueue(Task.of("w"), TaskOptions.builder().queue(queue).build());
            }
        });
        List<String> starts = Collections.synchronizedList(new ArrayList<>());
        int measured = WINDOW * WINDOWS;
        try (TaskServer server = TaskServer.builder(withClaimLatency(memory))
                .concurrency(32)
                .fetchers(fetchers)
                .queues(WEIGHTS)
                .handler(ctx -> starts.add(ctx.queue()))
                .build()
                .start()) {
            await().atMost(Duration.ofSeconds(60)).until(() -> starts.size() >= measured);
        }

        List<String> first;
        synchronized (starts) {
            first = List.copyOf(starts.subList(0, measured));
        }
        for (int w = 0; w < WINDOWS; w++) {
            List<String> window = first.subList(w * WINDOW, (w + 1) * WINDOW);
            for (Map.Entry<String, Integer> queue : WEIGHTS.entrySet()) {
                double share = Collections.frequency(window, queue.getKey()) / (double) WINDOW;
                double expected = queue.getValue() / 10.0;
                assertThat(share).as("share of '%s' in starts %d-%d", queue.getKey(), w * WINDOW, (w + 1) * WINDOW - 1)
                        .isBetween(expected - TOLERANCE, expected + TOLERANCE);
            }
        }
    }

    /**
     * The store with 1 ms added to every claim, as a database round trip would: handlers finish while
     * a fetch is in flight, so fetches find many free workers and claim full batches.
     */
    private static TaskStore withClaimLatency(TaskStore store) {
        return (TaskStore) Proxy.newProxyInstance(TaskStore.class.getClassLoader(),
                new Class<?>[] {TaskArrivals.class}, (proxy, method, args) -> {
                    if (method.getName().equals("claim")) {
                        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                    }
                    try {
                        return method.invoke(store, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}
