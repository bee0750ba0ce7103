package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.tasks.internal.NewTasks;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TaskOptionsTest {

    @Test
    void defaultsAreDocumented() {
        TaskOptions d = TaskOptions.defaults();
        assertThat(d.queue()).isEqualTo("default");
        assertThat(d.maxRetry()).isEqualTo(25);
        assertThat(d.timeout()).isEmpty();
        assertThat(d.retention()).isEqualTo(Duration.ZERO);
        assertThat(d.toBuilder().build()).isEqualTo(d);
    }

    @Test
    void invalidValuesAreRejectedSayingWhatWasExpectedAndGiven() {
        assertThatThrownBy(() -> TaskOptions.builder().maxRetry(-1).build())
                .hasMessage("maxRetry must be >= 0, but was -1");
        assertThatThrownBy(() -> TaskOptions.builder().timeout(Duration.ZERO).build())
                .hasMessage("timeout must be > 0, but was PT0S");
        assertThatThrownBy(() -> TaskOptions.builder().queue("has space").build())
                .hasMessageContaining("but was 'has space'");
        assertThatThrownBy(() -> TaskOptions.builder().taskId("a b").build())
                .hasMessageContaining("taskId must be");
        assertThatThrownBy(() -> TaskOptions.builder().retention(Duration.ofSeconds(-1)).build())
                .hasMessage("retention must be >= 0, but was PT-1S");
        assertThatThrownBy(() -> Task.of(" ")).hasMessage("task type must not be blank");
    }

    @Test
    void processAtAndProcessInReplaceEachOtherAndResolveAgainstTheEnqueueTime() {
        Instant now = Instant.parse("2024-05-01T10:00:00Z");
        TaskOptions in = TaskOptions.builder().processAt(now.plusSeconds(99)).processIn(Duration.ofSeconds(30)).build();
        assertThat(in.processAt()).isEmpty();
        assertThat(NewTasks.resolve(Task.of("t"), in, now, Optional.empty()).processAt()).isEqualTo(now.plusSeconds(30));
        assertThat(NewTasks.resolve(Task.of("t"), in, now, Optional.empty()).initialState()).isEqualTo(TaskState.SCHEDULED);

        TaskOptions past = TaskOptions.builder().processAt(now.minusSeconds(5)).build();
        assertThat(NewTasks.resolve(Task.of("t"), past, now, Optional.empty()).initialState()).isEqualTo(TaskState.PENDING);
    }

    @Test
    void uniqueKeyDependsOnQueueTypeAndPayload() {
        String k = NewTasks.uniqueKey("q", "t", new byte[] {1});
        assertThat(NewTasks.uniqueKey("q", "t", new byte[] {1})).isEqualTo(k);
        assertThat(NewTasks.uniqueKey("q2", "t", new byte[] {1})).isNotEqualTo(k);
        assertThat(NewTasks.uniqueKey("q", "t2", new byte[] {1})).isNotEqualTo(k);
        assertThat(NewTasks.uniqueKey("q", "t", new byte[] {2})).isNotEqualTo(k);
    }

    @Test
    void serverBuilderValidatesItsSettings() {
        var store = (io.courier.tasks.spi.TaskStore) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {io.courier.tasks.spi.TaskStore.class}, (proxy, method, args) -> {
                    throw new UnsupportedOperationException();
                });
        assertThatThrownBy(() -> TaskServer.builder(store).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("a handler is required");
        assertThatThrownBy(() -> TaskServer.builder(store).handler(ctx -> { }).concurrency(0).build())
                .hasMessage("concurrency must be >= 1, but was 0");
        assertThatThrownBy(() -> TaskServer.builder(store).queue("critical", 0))
                .hasMessage("weight of queue 'critical' must be >= 1, but was 0");
        assertThatThrownBy(() -> TaskServer.builder(store).handler(ctx -> { })
                .leaseDuration(Duration.ofSeconds(1)).heartbeatInterval(Duration.ofSeconds(1)).build())
                .hasMessage("heartbeatInterval must be < leaseDuration (PT1S), but was PT1S");
    }
}
