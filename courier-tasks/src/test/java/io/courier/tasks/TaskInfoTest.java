package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import org.junit.jupiter.api.Test;

/** The builders of the snapshot types stores create: defaults, validation, copies and equality. */
class TaskInfoTest {

    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

    private static TaskInfo.Builder minimal() {
        return TaskInfo.builder().id("id-1").queue("default").type("t").state(TaskState.PENDING).enqueuedAt(T0);
    }

    private static TaskInfo full() {
        return TaskInfo.builder().id("id-2").queue("critical").type("email:send").payload(new byte[] {1, 2})
                .state(TaskState.ACTIVE).retried(2).maxRetry(5).lastError("IOException: down")
                .lastFailedAt(T0.plusSeconds(1)).enqueuedAt(T0).nextProcessAt(T0.plusSeconds(2))
                .timeout(Duration.ofMinutes(1)).deadline(T0.plusSeconds(3600)).retention(Duration.ofHours(1))
                .startedAt(T0.plusSeconds(4)).completedAt(T0.plusSeconds(5)).worker("server-1")
                .leaseExpiresAt(T0.plusSeconds(6)).result(new byte[] {7}).build();
    }

    @Test
    void optionalFieldsDefaultToEmptyAndCountsToZero() {
        TaskInfo info = minimal().build();
        assertThat(info.payload()).isEmpty();
        assertThat(info.retried()).isZero();
        assertThat(info.maxRetry()).isZero();
        assertThat(info.retention()).isEqualTo(Duration.ZERO);
        assertThat(info.lastError()).isEmpty();
        assertThat(info.lastFailedAt()).isEmpty();
        assertThat(info.nextProcessAt()).isEmpty();
        assertThat(info.timeout()).isEmpty();
        assertThat(info.deadline()).isEmpty();
        assertThat(info.startedAt()).isEmpty();
        assertThat(info.completedAt()).isEmpty();
        assertThat(info.worker()).isEmpty();
        assertThat(info.leaseExpiresAt()).isEmpty();
        assertThat(info.result()).isEmpty();
    }

    @Test
    void everyFieldSetIsReadBack() {
        TaskInfo info = full();
        assertThat(info.id()).isEqualTo("id-2");
        assertThat(info.queue()).isEqualTo("critical");
        assertThat(info.type()).isEqualTo("email:send");
        assertThat(info.payload()).containsExactly(1, 2);
        assertThat(info.task()).isEqualTo(Task.of("email:send", new byte[] {1, 2}));
        assertThat(info.state()).isEqualTo(TaskState.ACTIVE);
        assertThat(info.retried()).isEqualTo(2);
        assertThat(info.maxRetry()).isEqualTo(5);
        assertThat(info.lastError()).contains("IOException: down");
        assertThat(info.lastFailedAt()).contains(T0.plusSeconds(1));
        assertThat(info.enqueuedAt()).isEqualTo(T0);
        assertThat(info.nextProcessAt()).contains(T0.plusSeconds(2));
        assertThat(info.timeout()).contains(Duration.ofMinutes(1));
        assertThat(info.deadline()).contains(T0.plusSeconds(3600));
        assertThat(info.retention()).isEqualTo(Duration.ofHours(1));
        assertThat(info.startedAt()).contains(T0.plusSeconds(4));
        assertThat(info.completedAt()).contains(T0.plusSeconds(5));
        assertThat(info.worker()).contains("server-1");
        assertThat(info.leaseExpiresAt()).contains(T0.plusSeconds(6));
        assertThat(info.result()).hasValueSatisfying(r -> assertThat(r).containsExactly(7));
    }

    @Test
    void toBuilderCopiesEveryFieldAndEachFieldTakesPartInEquals() {
        TaskInfo info = full();
        assertThat(info.toBuilder().build()).isEqualTo(info).hasSameHashCodeAs(info);
        assertThat(minimal().build().toBuilder().build()).isEqualTo(minimal().build());
        assertThat(info.toBuilder().id("x").build()).isNotEqualTo(info);
        assertThat(info.toBuilder().queue("x").build()).isNotEqualTo(info);
        assertThat(info.toBuilder().type("x").build()).isNotEqualTo(info);
        assertThat(info.toBuilder().payload(new byte[] {1, 3}).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().state(TaskState.RETRY).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().retried(3).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().maxRetry(6).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().lastError(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().lastFailedAt(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().enqueuedAt(T0.minusSeconds(1)).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().nextProcessAt(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().timeout(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().deadline(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().retention(Duration.ZERO).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().startedAt(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().completedAt(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().worker(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().leaseExpiresAt(null).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().result(new byte[] {8}).build()).isNotEqualTo(info);
        assertThat(info.toBuilder().result(null).build()).isNotEqualTo(info);
        assertThat(info.toString()).contains("id-2", "critical", "email:send", "ACTIVE", "2/5", "IOException: down");
    }

    @Test
    void payloadAndResultAreCopiedInAndOut() {
        byte[] payload = {1};
        byte[] result = {2};
        TaskInfo.Builder builder = minimal().payload(payload).result(result);
        TaskInfo info = builder.build();
        payload[0] = 9;
        result[0] = 9;
        info.payload()[0] = 8;
        info.result().orElseThrow()[0] = 8;
        assertThat(info.payload()).containsExactly(1);
        assertThat(info.result()).hasValueSatisfying(r -> assertThat(r).containsExactly(2));
        TaskInfo copy = info.toBuilder().build();
        assertThat(copy.payload()).containsExactly(1);
        assertThat(copy.result()).hasValueSatisfying(r -> assertThat(r).containsExactly(2));
    }

    @Test
    void buildRejectsMissingRequiredFieldsAndSettersRejectBadValues() {
        assertThatThrownBy(() -> TaskInfo.builder().queue("q").type("t").state(TaskState.PENDING).enqueuedAt(T0)
                .build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("id");
        assertThatThrownBy(() -> TaskInfo.builder().id("i").type("t").state(TaskState.PENDING).enqueuedAt(T0)
                .build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("queue");
        assertThatThrownBy(() -> TaskInfo.builder().id("i").queue("q").state(TaskState.PENDING).enqueuedAt(T0)
                .build()).isInstanceOf(IllegalStateException.class).hasMessageContaining("type");
        assertThatThrownBy(() -> TaskInfo.builder().id("i").queue("q").type("t").enqueuedAt(T0).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("state");
        assertThatThrownBy(() -> TaskInfo.builder().id("i").queue("q").type("t").state(TaskState.PENDING).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("enqueuedAt");
        assertThatThrownBy(() -> minimal().id(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> minimal().payload(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> minimal().retention(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> minimal().retried(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> minimal().maxRetry(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> minimal().retention(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> minimal().timeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void queueInfoBuilderDefaultsToZeroAndValidates() {
        LocalDate day = LocalDate.of(2026, 1, 1);
        QueueInfo empty = QueueInfo.builder().name("q").day(day).build();
        assertThat(empty.paused()).isFalse();
        assertThat(empty.size()).isZero();
        assertThat(empty.processed()).isZero();
        assertThat(empty.failed()).isZero();
        QueueInfo q = QueueInfo.builder().name("q").day(day).paused(true).pending(1).active(2).scheduled(3)
                .retry(4).archived(5).completed(6).processed(7).failed(8).build();
        assertThat(q.size()).isEqualTo(15);
        for (TaskState state : TaskState.values()) {
            assertThat(QueueInfo.builder().name("q").day(day).count(state, 9).build().count(state)).isEqualTo(9);
            assertThat(q.toBuilder().count(state, 0).build()).isNotEqualTo(q);
        }
        assertThat(q.toBuilder().build()).isEqualTo(q).hasSameHashCodeAs(q);
        assertThat(q.toBuilder().paused(false).build()).isNotEqualTo(q);
        assertThat(q.toBuilder().name("r").build()).isNotEqualTo(q);
        assertThat(q.toBuilder().day(day.plusDays(1)).build()).isNotEqualTo(q);
        assertThat(q.toBuilder().processed(0).build()).isNotEqualTo(q);
        assertThat(q.toBuilder().failed(0).build()).isNotEqualTo(q);
        assertThat(q.toString()).contains("name=q", "paused=true", "pending=1", "failed=8");
        assertThatThrownBy(() -> QueueInfo.builder().day(day).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("name");
        assertThatThrownBy(() -> QueueInfo.builder().name("q").build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("day");
        assertThatThrownBy(() -> QueueInfo.builder().pending(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> QueueInfo.builder().failed(-1)).isInstanceOf(IllegalArgumentException.class);
    }
}
