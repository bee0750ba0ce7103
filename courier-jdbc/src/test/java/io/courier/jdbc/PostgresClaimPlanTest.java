package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.jdbc.internal.ClaimedRow;
import io.courier.jdbc.internal.Migration;
import io.courier.jdbc.internal.PostgresDialect;
import io.courier.jdbc.internal.Settlement;
import io.courier.jdbc.internal.Tables;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Claims walk the visible-deliveries index in order whatever the table's statistics say. A queue
 * table outruns its statistics (it is empty when analyzed, or never analyzed, and then a backlog
 * arrives); left to the statistics, PostgreSQL planned the claim as a bitmap scan of every visible
 * row plus a sort, reading the whole backlog for each claim of 100. These tests count the index
 * entries a claim reads ({@code pg_stat_user_indexes.idx_tup_read}, flushed by the test's own
 * backend) on a table with a 20,000-row backlog that was never analyzed.
 */
class PostgresClaimPlanTest {

    private static final int BACKLOG = 20_000;
    private static final long GROUP = 1;
    private static final long OWNER = 42;

    private final PostgresDialect dialect = new PostgresDialect();
    private final Tables tables = new Tables("courier_");
    private String schema;
    private Connection c;

    @BeforeEach
    void createBacklog() throws SQLException {
        schema = Postgres.createSchema();
        c = DriverManager.getConnection(Postgres.url(schema), Postgres.USER, "");
        try (Statement s = c.createStatement()) {
            for (Migration m : dialect.migrations(tables)) {
                for (String sql : m.statements()) {
                    s.execute(sql);
                }
            }
            s.execute("INSERT INTO " + tables.groups() + " (id, topic, name, start_position, created_at)"
                    + " VALUES (" + GROUP + ", 'orders', 'billing', 'EARLIEST', 0)");
            s.execute("INSERT INTO " + tables.messages() + " (topic, message_id, payload, timestamp_ns, created_at, deliver_at)"
                    + " SELECT 'orders', 'm-' || g, '\\x00', 0, 0, 0 FROM generate_series(1, " + BACKLOG + ") g");
            s.execute("INSERT INTO " + tables.deliveries() + " (group_id, message_row, visible_at, attempts)"
                    + " SELECT " + GROUP + ", id, 1000 + id, 0 FROM " + tables.messages());
        }
    }

    @AfterEach
    void drop() throws SQLException {
        c.close();
        Postgres.dropSchema(schema);
    }

    @Test
    void aClaimFromANeverAnalyzedBacklogReadsAboutWhatItTakes() throws SQLException {
        long before = visibleIndexReads();

        List<ClaimedRow> claimed = dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 100);

        assertThat(claimed).extracting(ClaimedRow::messageRow)
                .containsExactlyElementsOf(rows(1, 100));
        // An ordered index scan stops after the 100 rows it takes; a bitmap scan plus sort reads all 20,000.
        assertThat(visibleIndexReads() - before).isLessThan(1_000);
    }

    @Test
    void anAcknowledgeAndClaimRequestAlsoWalksTheIndex() throws SQLException {
        List<ClaimedRow> first = dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 100);
        long before = visibleIndexReads();

        List<ClaimedRow> next = dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER,
                first.stream().map(Settlement::ack).collect(Collectors.toList()), 1_000_000, 2_000_000, 100);

        assertThat(next).extracting(ClaimedRow::messageRow).containsExactlyElementsOf(rows(101, 200));
        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 100);
        assertThat(visibleIndexReads() - before).isLessThan(1_000);
    }

    @Test
    void thePlannerSettingsLastOnlyForTheClaimsOwnTransaction() throws SQLException {
        dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 10);

        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan'), current_setting('enable_seqscan'),"
                        + " current_setting('jit')")) {
            rs.next();
            assertThat(List.of(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4))).containsOnly("on");
        }
    }

    /** Index entries read from the visible-deliveries index so far, including this backend's latest statements. */
    private long visibleIndexReads() throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SELECT pg_stat_force_next_flush()");
            s.execute("SELECT 1");  // the flush happens when a transaction ends
            s.execute("SELECT pg_stat_clear_snapshot()");
        }
        return count("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE schemaname = '" + schema
                + "' AND indexrelname = '" + tables.deliveries() + "_visible'");
    }

    private long count(String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<Long> rows(long from, long to) {
        return java.util.stream.LongStream.rangeClosed(from, to).boxed().collect(Collectors.toList());
    }
}
