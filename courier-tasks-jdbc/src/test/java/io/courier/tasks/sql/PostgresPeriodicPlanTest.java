package io.courier.tasks.sql;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The statements a PostgreSQL server runs periodically whatever there is to do (forwarding due
 * scheduled and retry tasks every poll interval, recovering expired leases and deleting expired
 * completed tasks every recovery interval) read about as many index entries and rows as they change,
 * whatever the table's statistics say. The table holds 20,000 completed tasks kept for their retention
 * (10,001 of them expired), a few due scheduled and retry tasks among 600 that are not due yet, and
 * 100 active tasks, 3 of them with an expired lease; each test that counts reads runs with each
 * state of the statistics in {@link Statistics}. Reads are counted as the index entries
 * ({@code pg_stat_user_indexes.idx_tup_read}, all indexes of the table) plus the rows read by
 * sequential scans ({@code pg_stat_user_tables.seq_tup_read}), on a pool of one connection so that
 * the test flushes and reads the statistics of the backend that ran the statement. 20,000 rows, so
 * that {@code ANALYZE} reads them all and the estimates do not depend on a sample. The inspector's
 * queue summaries and first pages, which a dashboard reads on every page view, are held to the same
 * rule.
 */
class PostgresPeriodicPlanTest {

    private static final long NOW = 2_000_000_000_000L;
    private static final int KEPT = 20_000;
    private static final int EXPIRED = 10_001;
    private static final List<String> QUEUES = List.of("q0", "q1", "q2");

    /** The table's statistics when the periodic statements run. */
    enum Statistics {
        /** Never analyzed (autovacuum has not come round yet, or is off). */
        NEVER_ANALYZED,
        /** Analyzed while the table was empty, right after it was created. */
        ANALYZED_EMPTY,
        /**
         * Analyzed while every row was due, expired or active with a lease that has expired since (a
         * quarter each of scheduled, retry, active and completed); those rows are gone since, and the
         * table vacuumed (without {@code ANALYZE}), before the tasks of the test arrive.
         */
        ANALYZED_OTHER_MIX,
        /** Analyzed with the tasks of the test in it. */
        ANALYZED_AS_IS
    }

    private OneConnectionSchema db;
    private SqlTaskStore store;
    private String tasks;

    private void open(Statistics statistics) throws SQLException {
        db = new OneConnectionSchema("tasks_periodic_");
        store = SqlTaskStore.builder(db.pool).build();
        tasks = store.tablePrefix() + "tasks";
        try (Connection c = db.pool.getConnection(); Statement s = c.createStatement()) {
            if (statistics == Statistics.ANALYZED_EMPTY) {
                s.execute("ANALYZE " + tasks);
            }
            if (statistics == Statistics.ANALYZED_OTHER_MIX) {
                s.execute(insert("'x-' || g", "'q' || (g % 3)", "(ARRAY['scheduled', 'retry', 'active', 'completed'])[1 + g % 4]",
                        NOW - 1_000_000 + "+ g", "CASE WHEN g % 4 = 2 THEN " + NOW + " - 1000000 + g END",
                        "CASE WHEN g % 4 = 3 THEN " + NOW + " - 1000000 + g END", KEPT));
                s.execute("ANALYZE " + tasks);
                s.execute("DELETE FROM " + tasks);
                s.execute("VACUUM " + tasks);
            }
            // Completed tasks kept for their retention, the first EXPIRED of them expired.
            s.execute(insert("'c-' || g", "'q' || (g % 3)", "'completed'", NOW - 1_000_000_000 + " + g", "NULL",
                    "CASE WHEN g <= " + EXPIRED + " THEN " + NOW + " - 100000 + g ELSE " + NOW + " + g END", KEPT));
            // Scheduled and retry tasks: five of each due (sd-1..5, rd-1..5), 300 of each not yet.
            s.execute(insert("'sd-' || g", "'q' || (g % 3)", "'scheduled'", NOW - 1000 + " + g", "NULL", "NULL", 5));
            s.execute(insert("'rd-' || g", "'q' || (g % 3)", "'retry'", NOW - 1000 + " + g", "NULL", "NULL", 5));
            s.execute(insert("'s-' || g", "'q' || (g % 3)", "'scheduled'", NOW + " + 1000 * g", "NULL", "NULL", 300));
            s.execute(insert("'r-' || g", "'q' || (g % 3)", "'retry'", NOW + " + 1000 * g", "NULL", "NULL", 300));
            // Active tasks; the leases of a-3, a-6 and a-9 (queue q0) have expired.
            s.execute(insert("'a-' || g", "'q' || (g % 3)", "'active'", NOW - 60_000 + " + g",
                    "CASE WHEN g <= 9 AND g % 3 = 0 THEN " + NOW + " - 1000 ELSE " + NOW + " + 60000 END", "NULL", 100));
            s.execute(insert("'p-' || g", "'q' || (g % 3)", "'pending'", NOW - 60_000 + " + g", "NULL", "NULL", 100));
            if (statistics == Statistics.ANALYZED_AS_IS) {
                s.execute("ANALYZE " + tasks);
            }
        }
    }

    /** An {@code INSERT ... SELECT} of {@code n} tasks over {@code g} from 1 to {@code n}; the other arguments are SQL expressions. */
    private String insert(String id, String queue, String state, String processAt, String leaseExpiresAt, String expiresAt, int n) {
        return "INSERT INTO " + tasks + " (id, queue, type, payload, state, retried, max_retry, retention_ms, enqueued_at,"
                + " process_at, lease_owner, lease_token, lease_expires_at, completed_at, expires_at)"
                + " SELECT " + id + ", " + queue + ", 't', '\\x7b7d', " + state + ", 0, 25, 86400000, " + (NOW - 2_000_000_000L) + ", "
                + processAt + ", CASE WHEN " + state + " = 'active' THEN 'w' END, CASE WHEN " + state + " = 'active' THEN 'tok' END, "
                + leaseExpiresAt + ", CASE WHEN " + state + " = 'completed' THEN " + (NOW - 1_000_000_000L) + " END, " + expiresAt
                + " FROM generate_series(1, " + n + ") g";
    }

    @AfterEach
    void drop() throws SQLException {
        if (store != null) {
            store.close();
        }
        if (db != null) {
            db.close();
        }
    }

    @ParameterizedTest
    @EnumSource(Statistics.class)
    void forwardingReadsAboutWhatItForwards(Statistics statistics) throws SQLException {
        open(statistics);
        long before = reads();

        int forwarded = store.forwardDue(QUEUES, Instant.ofEpochMilli(NOW));

        long read = reads() - before;
        assertThat(forwarded).isEqualTo(10);
        assertThat(idsIn("pending")).containsAll(List.of("sd-1", "sd-5", "rd-1", "rd-5")).hasSize(110);
        // The ten due tasks, their rows again by primary key, and nothing else. Checking the state on
        // the heap rather than in the index condition reads the entries of all 20,000 completed tasks.
        assertThat(read).as("index entries and rows read").isLessThan(200);
    }

    @ParameterizedTest
    @EnumSource(Statistics.class)
    void forwardingABacklogReadsAboutWhatItForwards(Statistics statistics) throws SQLException {
        open(statistics);
        try (Connection c = db.pool.getConnection(); Statement s = c.createStatement()) {
            s.execute(insert("'b-' || g", "'q3'", "'scheduled'", NOW - 100_000 + " + g", "NULL", "NULL", 5_000));
        }
        List<String> queues = List.of("q0", "q1", "q2", "q3");
        long before = reads();

        int forwarded = store.forwardDue(queues, Instant.ofEpochMilli(NOW));

        long read = reads() - before;
        // At most 1,000 per queue and state: the oldest 1,000 of q3's backlog, and the ten others.
        assertThat(forwarded).isEqualTo(1_010);
        List<String> pending = idsIn("pending");
        assertThat(pending).filteredOn(id -> id.startsWith("b-"))
                .containsExactlyInAnyOrderElementsOf(IntStream.rangeClosed(1, 1_000).mapToObj(g -> "b-" + g).collect(Collectors.toList()));
        // 1,010 index entries and 1,010 rows by primary key; one statement over all four queues in
        // process_at order reads and sorts all 5,010 due tasks.
        assertThat(read).as("index entries and rows read").isLessThan(3_000);
    }

    @ParameterizedTest
    @EnumSource(Statistics.class)
    void recoveringExpiredLeasesReadsAboutWhatItRecovers(Statistics statistics) throws SQLException {
        open(statistics);
        long before = reads();

        int recovered = store.recoverExpiredLeases(List.of("q0"), Instant.ofEpochMilli(NOW), "lease expired");

        long read = reads() - before;
        assertThat(recovered).isEqualTo(3);
        assertThat(idsIn("retry")).contains("a-3", "a-6", "a-9").doesNotContain("a-12");
        // Walking the primary key in id order and testing each row reads all 20,810.
        assertThat(read).as("index entries and rows read").isLessThan(100);
    }

    @ParameterizedTest
    @EnumSource(Statistics.class)
    void deletingExpiredCompletedTasksReadsAboutWhatItDeletes(Statistics statistics) throws SQLException {
        open(statistics);
        long before = reads();

        int deleted = store.deleteExpiredCompleted(Instant.ofEpochMilli(NOW));

        long read = reads() - before;
        assertThat(deleted).isEqualTo(1_000);
        // The oldest first: c-1..c-1000 expired first.
        assertThat(idsIn("completed")).hasSize(KEPT - 1_000).doesNotContain("c-1", "c-1000").contains("c-1001");
        // 1,000 index entries and 1,000 rows by primary key; a bitmap scan collects all 10,001 expired entries first.
        assertThat(read).as("index entries and rows read").isLessThan(3_000);
    }

    @ParameterizedTest
    @EnumSource(Statistics.class)
    void inspectorSummariesReadNoTaskAndFirstPagesReadAboutAPage(Statistics statistics) throws SQLException {
        open(statistics);
        java.time.LocalDate today = java.time.LocalDate.now(java.time.ZoneOffset.UTC);
        long before = reads();

        assertThat(store.queueNames()).containsExactly("q0", "q1", "q2");
        io.courier.tasks.QueueInfo q0 = store.queueInfo("q0", today);

        // The counts come from the counters the triggers keep: not one task read. Counting them read
        // all 20,810 (v2).
        assertThat(reads() - before).as("index entries and rows read by the summaries").isZero();
        assertThat(List.of(q0.pending(), q0.active(), q0.scheduled(), q0.retry(), q0.archived(), q0.completed()))
                .containsExactly(33L, 33L, 101L, 101L, 0L, 6_666L);
        long beforePages = reads();
        for (io.courier.tasks.TaskState state : io.courier.tasks.TaskState.values()) {
            assertThat(store.listTasks("q0", state, 0, 20)).hasSize((int) Math.min(20, q0.count(state)));
        }
        assertThat(store.getTask("c-3")).isPresent();
        // Six pages of at most 20 (about 120 index entries and rows each way) and one task; the
        // completed page sorted all 6,666 completed tasks of q0 before it had an index (v2), and the
        // scheduled and retry pages all of theirs when the index order was not the listing's.
        assertThat(reads() - beforePages).as("index entries and rows read by the first pages").isLessThan(600);
    }

    @Test
    void thePlannerSettingsLastOnlyForTheirOwnTransactions() throws SQLException {
        open(Statistics.NEVER_ANALYZED);
        List<String> before = plannerSettings();

        store.forwardDue(QUEUES, Instant.ofEpochMilli(NOW));
        store.recoverExpiredLeases(QUEUES, Instant.ofEpochMilli(NOW), "lease expired");
        store.deleteExpiredCompleted(Instant.ofEpochMilli(NOW));

        // The pool's only connection, the one that ran them.
        assertThat(plannerSettings()).isEqualTo(before).contains("on");
    }

    private List<String> plannerSettings() throws SQLException {
        try (Connection c = db.pool.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan'),"
                        + " current_setting('enable_seqscan'), current_setting('jit')")) {
            rs.next();
            return List.of(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4));
        }
    }

    /** Index entries and rows read from the tasks table so far, including this backend's latest statements. */
    private long reads() throws SQLException {
        return db.counter("SELECT t.seq_tup_read + (SELECT SUM(i.idx_tup_read) FROM pg_stat_user_indexes i"
                + " WHERE i.relid = t.relid) FROM pg_stat_user_tables t WHERE t.schemaname = ? AND t.relname = ?", db.name, tasks);
    }

    private List<String> idsIn(String state) throws SQLException {
        List<String> ids = new ArrayList<>();
        try (Connection c = db.pool.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT id FROM " + tasks + " WHERE state = ?")) {
            ps.setString(1, state);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
        }
        return ids;
    }
}
