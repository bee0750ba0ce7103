package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.JsonCodec;
import io.courier.tasks.spi.TaskStore;
import java.lang.reflect.Proxy;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Attempt numbers, result writing and last-error text, without a store. */
class TaskContextTest {

    record Summary(int sent) {
    }

    private static TaskInfo info(int retried, int maxRetry) {
        return TaskInfo.builder().id("id-1").queue("default").type("t").state(TaskState.ACTIVE).retried(retried)
                .maxRetry(maxRetry).enqueuedAt(Instant.EPOCH).build();
    }

    @Test
    void attemptIsOneBasedAndTheLastIsMaxRetryPlusOne() {
        assertThat(new TaskContext(info(0, 2), Instant.MAX, JsonCodec.defaults()).attempt()).isEqualTo(1);
        TaskContext last = new TaskContext(info(2, 2), Instant.MAX, JsonCodec.defaults());
        assertThat(last.attempt()).isEqualTo(3);
        assertThat(last.isLastAttempt()).isTrue();
    }

    @Test
    void resultsGoToTheWriterEncodedByTheCodecAndCopied() {
        List<byte[]> written = new CopyOnWriteArrayList<>();
        TaskContext ctx = new TaskContext(info(0, 0), Instant.MAX, JsonCodec.defaults(), r -> written.add(r));
        byte[] bytes = {1, 2};
        assertThat(ctx.writeResult(bytes)).isTrue();
        bytes[0] = 9;
        assertThat(ctx.writeResult(new Summary(3))).isTrue();
        assertThat(written.get(0)).containsExactly(1, 2);
        assertThat(new String(written.get(1), java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("{\"sent\":3}");
        assertThatThrownBy(() -> new TaskContext(info(0, 0), Instant.MAX, JsonCodec.defaults()).writeResult(bytes))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void taskInfoCopiesItsResult() {
        byte[] result = {1};
        TaskInfo info = TaskInfo.builder().id("id-1").queue("default").type("t").state(TaskState.COMPLETED)
                .enqueuedAt(Instant.EPOCH).result(result).build();
        result[0] = 2;
        info.result().orElseThrow()[0] = 3;
        assertThat(info.result()).hasValueSatisfying(r -> assertThat(r).containsExactly(1));
        assertThat(info).isNotEqualTo(info(0, 0))
                .isEqualTo(info.toBuilder().result(new byte[] {1}).build())
                .isNotEqualTo(info.toBuilder().result(new byte[] {2}).build())
                .isNotEqualTo(info.toBuilder().result(null).build());
    }

    @Test
    void lastErrorAlwaysStartsWithTheExceptionClass() {
        RuntimeException shy = new IllegalStateException("hidden") {
            @Override
            public String toString() {
                return "something went wrong";
            }
        };
        assertThat(TaskServer.describe(shy)).isEqualTo(shy.getClass().getName() + ": hidden");
        assertThat(TaskServer.describe(new TaskTimeoutException("attempt timed out", false)))
                .isEqualTo("io.courier.tasks.TaskTimeoutException: attempt timed out");
        assertThat(TaskServer.describe(new UnknownTaskTypeException("x")))
                .isEqualTo("io.courier.tasks.UnknownTaskTypeException: no handler registered for task type 'x'");
        assertThat(TaskServer.describe(new NullPointerException())).isEqualTo("java.lang.NullPointerException");
        assertThat(TaskServer.LEASE_EXPIRED_ERROR).startsWith("io.courier.tasks.LeaseExpiredException: lease expired");
        assertThat(TaskServer.describe(new IllegalStateException("x".repeat(5000)))).hasSize(4003).endsWith("...");
    }

    @Test
    void maxResultBytesIsValidated() {
        TaskStore store = (TaskStore) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {TaskStore.class},
                (proxy, method, args) -> {
                    throw new UnsupportedOperationException(method.getName());
                });
        TaskServer.Builder b = TaskServer.builder(store).handler(ctx -> { });
        assertThatThrownBy(() -> b.maxResultBytes(0).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxResultBytes must be between 1 and " + TaskServer.MAX_RESULT_BYTES_LIMIT + ", but was 0");
        assertThatThrownBy(() -> b.maxResultBytes(TaskServer.MAX_RESULT_BYTES_LIMIT + 1).build())
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(b.maxResultBytes(TaskServer.MAX_RESULT_BYTES_LIMIT).build()).isNotNull();
    }
}
