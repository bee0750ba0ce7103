package io.courier.tasks.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.tasks.Task;
import io.courier.tasks.TaskClient;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** What the conformance suite (run in courier-testkit) does not cover: the second store and closing. */
class InMemoryTaskStoreTest {

    @Test
    void aSecondStoreSharesTasksAndAnnouncementsAndClosesOnItsOwn() {
        InMemoryTaskStore first = InMemoryTaskStore.create();
        InMemoryTaskStore second = first.openAnother();
        List<String> heard = new CopyOnWriteArrayList<>();
        first.subscribeArrivals(List.of("default"), new ArrivalListener() {
            @Override
            public void ready(String queue, int count) {
                heard.add("ready " + queue + " " + count);
            }

            @Override
            public void scheduled(String queue, Instant dueAt) {
                heard.add("scheduled " + queue);
            }

            @Override
            public void missed() {
                heard.add("missed");
            }
        });

        TaskInfo info = TaskClient.create(second).enqueue(Task.of("shared"));
        TaskClient.create(second).enqueue(Task.of("later"), TaskOptions.builder().processIn(Duration.ofHours(1)).build());

        assertThat(first.getTask(info.id())).isPresent();
        assertThat(heard).containsExactly("ready default 1", "scheduled default");
        second.close();
        assertThatThrownBy(() -> second.getTask(info.id())).isInstanceOf(TaskStoreException.class)
                .hasMessageContaining("closed");
        assertThat(first.claim("default", 10, "w", Instant.now(), Duration.ofMinutes(1)))
                .extracting(c -> c.info().id()).containsExactly(info.id());
    }

    @Test
    void closingEndsTheStoresSubscriptions() {
        InMemoryTaskStore store = InMemoryTaskStore.create();
        InMemoryTaskStore other = store.openAnother();
        List<String> heard = new CopyOnWriteArrayList<>();
        store.subscribeArrivals(List.of("default"), new ArrivalListener() {
            @Override
            public void ready(String queue, int count) {
                heard.add(queue);
            }

            @Override
            public void scheduled(String queue, Instant dueAt) {
            }

            @Override
            public void missed() {
            }
        });
        store.close();

        TaskClient.create(other).enqueue(Task.of("unheard"));

        assertThat(heard).isEmpty();
    }
}
