package io.courier.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.jdbc.internal.Claimed;
import io.courier.jdbc.internal.ClaimedRow;
import io.courier.jdbc.internal.PostgresDialect;
import io.courier.jdbc.internal.Settlement;
import io.courier.jdbc.internal.Tables;
import io.courier.sql.Migration;
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

        List<ClaimedRow> claimed = dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 100, 1_001_000).rows();

        assertThat(claimed).extracting(ClaimedRow::messageRow)
                .containsExactlyElementsOf(rows(1, 100));
        // An ordered index scan stops after the 100 rows it takes; a bitmap scan plus sort reads all 20,000.
        assertThat(visibleIndexReads() - before).isLessThan(1_000);
    }

    /**
     * The claim's look-ahead for the next visible delivery is one step along the same index from the
     * claim's time, and stops at the end of its window: the leases the claim just wrote, a lease timeout
     * ahead, are not walked.
     */
    @Test
    void theClaimsLookAheadTakesOneIndexStepAndStopsAtItsWindow() throws SQLException {
        long before = visibleIndexReads();
        Claimed claimed = dialect.claim(c, tables, GROUP, 5_000, 2_000_000, OWNER, 100, 6_000);
        assertThat(claimed.rows()).extracting(ClaimedRow::messageRow).containsExactlyElementsOf(rows(1, 100));
        assertThat(claimed.nextVisibleAt()).as("visible_at of row 4,001, the first after the claim's time").isEqualTo(5_001);

        Claimed all = dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 100, 1_001_000);
        assertThat(all.nextVisibleAt()).as("nothing within the window; the leases lie beyond it").isEqualTo(Claimed.NONE);
        assertThat(visibleIndexReads() - before).isLessThan(1_000);
    }

    @Test
    void anAcknowledgeAndClaimRequestAlsoWalksTheIndex() throws SQLException {
        List<ClaimedRow> first = dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 100, 1_001_000).rows();
        long before = visibleIndexReads();

        List<ClaimedRow> next = dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER,
                first.stream().map(Settlement::ack).collect(Collectors.toList()), 1_000_000, 2_000_000, 100, 1_001_000).rows();

        assertThat(next).extracting(ClaimedRow::messageRow).containsExactlyElementsOf(rows(101, 200));
        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 100);
        assertThat(visibleIndexReads() - before).isLessThan(1_000);
    }

    @Test
    void thePlannerSettingsLastOnlyForTheirRequestsOwnTransaction() throws SQLException {
        List<ClaimedRow> claimed = dialect.claim(c, tables, GROUP, 1_000_000, 2_000_000, OWNER, 10, 1_001_000).rows();
        assertThat(plannerSettings()).containsOnly("on");

        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, claimed.subList(0, 5).stream().map(Settlement::ack)
                .collect(Collectors.toList()), 1_000_000, 2_000_000, 0, 1_001_000);
        assertThat(plannerSettings()).containsOnly("on");

        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, claimed.subList(5, 10).stream().map(Settlement::ack)
                .collect(Collectors.toList()), 1_000_000, 2_000_000, 10, 1_001_000);
        assertThat(plannerSettings()).containsOnly("on");
        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 10);
    }

    private List<String> plannerSettings() throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan'), current_setting('enable_seqscan'),"
                        + " current_setting('jit'), current_setting('enable_nestloop')")) {
            rs.next();
            return List.of(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5));
        }
    }

    /**
     * Acknowledgements look up each acknowledged row by primary key, whatever the statistics say. Left to
     * them (a never-analyzed table, where {@code lease_owner = ?} looks like one row), PostgreSQL walked
     * the group's whole primary key and joined every entry against the acknowledged rows: 117 entries per
     * message in the benchmark, and 20,000 per acknowledgement of 100 here.
     */
    @Test
    void anAcknowledgementOfABacklogLeasedByOneConsumerReadsOnlyTheAcknowledgedRows() throws SQLException {
        leaseEverythingTo(OWNER);
        long before = keyIndexReads();

        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(501, 600), 0, 2_000_000, 0, 1_001_000);

        assertThat(count("SELECT count(*) FROM " + tables.deliveries() + " WHERE message_row BETWEEN 501 AND 600")).isZero();
        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 100);
        assertThat(keyIndexReads() - before).isLessThan(1_000);
    }

    @Test
    void anAcknowledgementSentWithAClaimReadsOnlyTheAcknowledgedRowsToo() throws SQLException {
        leaseEverythingTo(OWNER);
        long before = keyIndexReads();

        List<ClaimedRow> next = dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(501, 600), 0, 2_000_000, 100, 1_001_000).rows();

        assertThat(next).isEmpty();     // everything else is leased
        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 100);
        assertThat(keyIndexReads() - before).isLessThan(1_000);
    }

    /**
     * The acknowledgement joins the deliveries to the acknowledged (row, attempt) pairs. Once a
     * connection runs it often enough for a generic plan (pgjdbc prepares it on the server after five
     * uses, PostgreSQL plans it generically after five more), PostgreSQL without statistics expects ten
     * pairs and one delivery row, and planned a nested loop that unnested the arrays again for every
     * delivery row: 5 ms for 100 rows and 72 ms for 200 in the benchmark, over 5 s for the 5,000 here.
     * A hash join takes milliseconds; the statement timeout turns the quadratic plan into a failure.
     */
    @Test
    void aLargeAcknowledgementIsLinearInItsSizeOnceTheStatementIsPlannedGenerically() throws SQLException {
        leaseEverythingTo(OWNER);
        try (Statement s = c.createStatement()) {
            s.execute("SET statement_timeout = '5s'");
        }
        long row = 1;
        for (int i = 0; i < 15; i++, row += 20) {
            dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(row, row + 9), 0, 2_000_000, 0, 1_001_000);
            dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(row + 10, row + 19), 0, 2_000_000, 100, 1_001_000);
        }

        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(1_001, 6_000), 0, 2_000_000, 0, 1_001_000);
        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(6_001, 11_000), 0, 2_000_000, 100, 1_001_000);

        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 10_300);
        assertThat(count("SELECT min(message_row) FROM " + tables.deliveries())).isEqualTo(301);
        assertThat(count("SELECT count(*) FROM " + tables.deliveries() + " WHERE message_row <= 11000")).isEqualTo(700);
        // Generically planned, an acknowledgement still looks up only its own rows.
        long before = keyIndexReads();
        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(11_001, 11_100), 0, 2_000_000, 0, 1_001_000);
        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks(11_101, 11_200), 0, 2_000_000, 100, 1_001_000);
        assertThat(keyIndexReads() - before).isLessThan(1_000);
        assertThat(count("SELECT count(*) FROM " + tables.deliveries())).isEqualTo(BACKLOG - 10_500);
    }

    private static List<Settlement> acks(long from, long to) {
        return rows(from, to).stream()
                .map(row -> Settlement.ack(new ClaimedRow(row, 1, null, 0))).collect(Collectors.toList());
    }

    @Test
    void anAcknowledgementIsFencedByTheLeaseOwnerAndAttempt() throws SQLException {
        leaseEverythingTo(OWNER);
        List<Settlement> acks = List.of(
                Settlement.ack(new ClaimedRow(1, 1, null, 0)),      // this consumer's lease: deleted
                Settlement.ack(new ClaimedRow(2, 2, null, 0)));     // an older attempt's ack: the row stays

        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER + 1, acks.subList(0, 1), 0, 2_000_000, 0, 1_001_000);
        dialect.acknowledgeAndClaim(c, tables, GROUP, OWNER, acks, 0, 2_000_000, 0, 1_001_000);

        assertThat(count("SELECT count(*) FROM " + tables.deliveries() + " WHERE message_row IN (1, 2)")).isEqualTo(1);
        assertThat(count("SELECT message_row FROM " + tables.deliveries() + " WHERE message_row IN (1, 2)")).isEqualTo(2);
    }

    /** What a consumer that claimed the whole backlog looks like: every row leased by {@code owner}, attempt 1. */
    private void leaseEverythingTo(long owner) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("UPDATE " + tables.deliveries() + " SET lease_owner = " + owner + ", attempts = 1, visible_at = 3000000");
        }
    }

    /** Index entries read from the visible-deliveries index so far, including this backend's latest statements. */
    private long visibleIndexReads() throws SQLException {
        return indexReads(tables.deliveries() + "_visible");
    }

    /** Index entries read from the deliveries primary key so far. */
    private long keyIndexReads() throws SQLException {
        return indexReads(tables.deliveries() + "_pkey");
    }

    private long indexReads(String index) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("SELECT pg_stat_force_next_flush()");
            s.execute("SELECT 1");  // the flush happens when a transaction ends
            s.execute("SELECT pg_stat_clear_snapshot()");
        }
        return count("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE schemaname = '" + schema
                + "' AND indexrelname = '" + index + "'");
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
