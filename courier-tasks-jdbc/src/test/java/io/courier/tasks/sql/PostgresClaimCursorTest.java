package io.courier.tasks.sql;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.tasks.Task;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.internal.NewTasks;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL claims start past where the previous full claim ended (a cursor that skips the index
 * entries of tasks just claimed); a task that becomes pending behind the cursor must still be claimed,
 * without waiting for the cursor to expire.
 */
class PostgresClaimCursorTest {

    private String schema;
    private SqlTaskStore store;

    @BeforeEach
    void open() throws Exception {
        schema = "tasks_cursor_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        PostgresTaskStoreTest.execute("CREATE SCHEMA " + schema);
        store = SqlTaskStore.postgres(PostgresTaskStoreTest.URL + "?currentSchema=" + schema, PostgresTaskStoreTest.USER, "");
    }

    @AfterEach
    void close() throws Exception {
        store.close();
        PostgresTaskStoreTest.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }

    @Test
    void taskRequeuedBehindTheCursorIsClaimedWhenThePartPastTheCursorRunsShort() {
        Instant base = Instant.now().minusSeconds(60);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            ids.add(store.enqueue(NewTasks.resolve(Task.of("t"), TaskOptions.defaults(), base.plusMillis(i), Optional.empty())).id());
        }
        Instant now = Instant.now();
        List<ClaimedTask> first = store.claim("default", 16, "w", now, Duration.ofMinutes(1));
        assertThat(first).extracting(t -> t.info().id()).containsExactlyInAnyOrderElementsOf(ids.subList(0, 16));

        ClaimedTask behind = first.get(3);
        assertThat(store.requeue(new Lease(behind.info().id(), behind.leaseToken()))).isTrue();

        List<String> drained = new ArrayList<>();
        int claims = 0;
        List<ClaimedTask> batch;
        while (!(batch = store.claim("default", 16, "w", now, Duration.ofMinutes(1))).isEmpty()) {
            batch.forEach(t -> drained.add(t.info().id()));
            assertThat(++claims).as("claims needed to drain 25 tasks").isLessThanOrEqualTo(3);
        }
        List<String> expected = new ArrayList<>(ids.subList(16, 40));
        expected.add(behind.info().id());
        assertThat(drained).doesNotHaveDuplicates().containsExactlyInAnyOrderElementsOf(expected);
    }
}
