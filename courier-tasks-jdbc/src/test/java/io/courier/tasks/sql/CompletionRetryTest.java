package io.courier.tasks.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.tasks.Task;
import io.courier.tasks.TaskClient;
import io.courier.tasks.TaskServer;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.TaskStore;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's batched completions survive a failed write: the batch is written again, so the task
 * completes once and does not wait for its lease to expire and run a second time.
 */
class CompletionRetryTest {

    @TempDir
    Path dir;

    @Test
    void completionWhoseFirstWriteFailsIsWrittenAgainAndTheTaskRunsOnce() {
        AtomicInteger completeAllCalls = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        try (SqlTaskStore real = SqlTaskStore.sqlite(dir.resolve("tasks.db"))) {
            // The real store, except that the first completeAll fails as a dropped connection would.
            TaskStore flaky = (TaskStore) Proxy.newProxyInstance(TaskStore.class.getClassLoader(),
                    new Class<?>[] {TaskStore.class}, (proxy, method, args) -> {
                        if (method.getName().equals("completeAll") && completeAllCalls.incrementAndGet() == 1) {
                            throw new TaskStoreException("injected: connection reset while completing");
                        }
                        try {
                            return method.invoke(real, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            String id = TaskClient.create(flaky).enqueue(Task.of("once")).id();
            try (TaskServer server = TaskServer.builder(flaky)
                    .concurrency(1)
                    .handler(ctx -> runs.incrementAndGet())
                    .leaseDuration(Duration.ofSeconds(1))
                    .recoveryInterval(Duration.ofMillis(100))
                    .pollInterval(Duration.ofMillis(50))
                    .build()
                    .start()) {
                await().atMost(Duration.ofSeconds(20)).until(() -> real.getTask(id).isEmpty());
                // Two lease lengths: a completion left to recovery would have run the task again by now.
                await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> runs.get() == 1);
            }
        }
        assertThat(completeAllCalls.get()).isGreaterThanOrEqualTo(2);
        assertThat(runs).hasValue(1);
    }
}
