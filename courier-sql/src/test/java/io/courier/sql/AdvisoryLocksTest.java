package io.courier.sql;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class AdvisoryLocksTest {

    private static final TablePrefix PREFIX = new TablePrefix("courier_");

    /**
     * Ids never change between releases: processes of two Courier versions on one database must take
     * the same lock for the same purpose. These are the ids courier-jdbc has always used.
     */
    @Test
    void idsAreTheFnv1aHashOfPrefixAndPurpose() {
        assertThat(AdvisoryLocks.id(PREFIX, "schema")).isEqualTo(fnv1a("courier_/schema"));
        assertThat(AdvisoryLocks.id(PREFIX, "cleanup")).isEqualTo(0x1aec07ed4b9ad702L);
        assertThat(AdvisoryLocks.id(PREFIX, "cleanup")).isNotEqualTo(AdvisoryLocks.id(new TablePrefix("other_"), "cleanup"));
    }

    @Test
    void aHeldLockIsNotTakenByAnotherTransactionUntilItEnds() throws SQLException {
        long id = AdvisoryLocks.id(new TablePrefix("locks_test_"), "purpose/" + System.nanoTime());
        try (Connection a = connect(); Connection b = connect()) {
            a.setAutoCommit(false);
            b.setAutoCommit(false);
            AdvisoryLocks.lock(a, id);
            assertThat(AdvisoryLocks.tryLock(b, id)).isFalse();
            a.commit();
            assertThat(AdvisoryLocks.tryLock(b, id)).isTrue();
            b.commit();
            AdvisoryLocks.lockShared(a, id);
            AdvisoryLocks.lockShared(b, id);
            a.commit();
            b.commit();
        }
    }

    private static Connection connect() throws SQLException {
        return DriverManager.getConnection(TestDatabases.url(null), TestDatabases.USER, "");
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (char ch : s.toCharArray()) {
            h = (h ^ ch) * 0x100000001b3L;
        }
        return h;
    }
}
