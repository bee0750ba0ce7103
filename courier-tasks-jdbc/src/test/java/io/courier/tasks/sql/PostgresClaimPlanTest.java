package io.courier.tasks.sql;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.tasks.spi.ClaimedTask;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL claims walk the pending index in claim order whatever the table's statistics say. The
 * statistics here are taken while queue {@code q0} is short (200 pending tasks among 20,000, the rest
 * completed and kept; 20,000 rows, so {@code ANALYZE} reads them all and the estimate does not
 * depend on a sample), then a burst of 20,000 tasks arrives. The planner then expects about 40
 * pending tasks in {@code q0}, fewer than a claim of 100 takes, and left to itself plans the claim
 * as a bitmap scan of every pending task of the queue plus a sort. These tests count the index
 * entries a claim reads ({@code pg_stat_user_indexes.idx_tup_read}), on a pool of one connection so
 * that the test reads and flushes the statistics of the backend that claimed.
 */
class PostgresClaimPlanTest {

    private static final int KEPT = 20_000;
    private static final int BURST = 20_000;
    private static final String QUEUE = "q0";

    private OneConnectionSchema db;
    private SqlTaskStore store;

    @BeforeEach
    void createBurstAfterStatistics() throws SQLException {
        db = new OneConnectionSchema("tasks_plan_");
        store = SqlTaskStore.builder(db.pool).build();
        String tasks = store.tablePrefix() + "tasks";
        try (Connection c = db.pool.getConnection(); Statement s = c.createStatement()) {
            // Ten queues; one task in a hundred pending, all of those in q0 (old-100, old-200, ...).
            s.execute("INSERT INTO " + tasks + " (id, queue, type, payload, state, retried, max_retry, retention_ms,"
                    + " enqueued_at, process_at, completed_at, expires_at)"
                    + " SELECT 'old-' || g, 'q' || (g % 10), 't', '\\x00',"
                    + " CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'completed' END, 0, 25, 86400000, 1000 + g, 1000 + g,"
                    + " CASE WHEN g % 100 = 0 THEN NULL ELSE 5000 END, CASE WHEN g % 100 = 0 THEN NULL ELSE 90000000 END"
                    + " FROM generate_series(1, " + KEPT + ") g");
            s.execute("ANALYZE " + tasks);
            s.execute("INSERT INTO " + tasks + " (id, queue, type, payload, state, retried, max_retry, retention_ms,"
                    + " enqueued_at, process_at)"
                    + " SELECT 'new-' || g, '" + QUEUE + "', 't', '\\x00', 'pending', 0, 25, 0, 100000 + g, 100000 + g"
                    + " FROM generate_series(1, " + BURST + ") g");
        }
    }

    @AfterEach
    void drop() throws SQLException {
        store.close();
        db.close();
    }

    @Test
    void aClaimAfterABurstReadsAboutWhatItTakes() throws SQLException {
        long before = pendingIndexReads();

        List<ClaimedTask> claimed = claim(100);

        assertThat(claimed).extracting(t -> t.info().id())
                .containsExactlyInAnyOrderElementsOf(ids("old-", 100, 10_000, 100));
        // An ordered index scan stops after the 100 tasks it takes; a bitmap scan plus sort reads all 20,200.
        assertThat(pendingIndexReads() - before).isLessThan(1_000);
    }

    @Test
    void everyClaimOfABurnDownReadsAboutWhatItTakes() throws SQLException {
        // The first claim starts at the front, the next ones past the cursor it leaves.
        List<String> drained = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            long before = pendingIndexReads();
            claim(100).forEach(t -> drained.add(t.info().id()));
            assertThat(pendingIndexReads() - before).as("index entries read by claim %d", i + 1).isLessThan(1_000);
        }
        List<String> expected = new ArrayList<>(ids("old-", 100, 20_000, 100));
        expected.addAll(ids("new-", 1, 300, 1));
        assertThat(drained).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void thePlannerSettingsLastOnlyForTheClaimsOwnTransaction() throws SQLException {
        claim(10);

        // The pool's only connection, the one that claimed.
        try (Connection c = db.pool.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan'),"
                        + " current_setting('enable_seqscan'), current_setting('synchronous_commit')")) {
            rs.next();
            assertThat(List.of(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4))).containsOnly("on");
        }
    }

    private List<ClaimedTask> claim(int max) {
        return store.claim(QUEUE, max, "w", Instant.now(), Duration.ofMinutes(1));
    }

    /** Index entries read from the pending index so far, including the claiming backend's latest statements. */
    private long pendingIndexReads() throws SQLException {
        return db.counter("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE schemaname = ? AND indexrelname = ?",
                db.name, store.tablePrefix() + "tasks_pending");
    }

    private static List<String> ids(String prefix, int from, int to, int step) {
        return IntStream.iterate(from, g -> g <= to, g -> g + step).mapToObj(g -> prefix + g).collect(Collectors.toList());
    }
}
