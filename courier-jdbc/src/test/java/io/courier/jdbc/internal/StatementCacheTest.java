package io.courier.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteDataSource;

class StatementCacheTest {

    @TempDir
    Path dir;

    private HikariDataSource pool;
    private final StatementCache cache = new StatementCache(SQLiteConnection.class);

    @BeforeEach
    void open() throws SQLException {
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        SQLiteDataSource sqlite = new SQLiteDataSource(config);
        sqlite.setUrl("jdbc:sqlite:" + dir.resolve("cache.db"));
        HikariConfig hc = new HikariConfig();
        hc.setDataSource(sqlite);
        hc.setMaximumPoolSize(2);
        pool = new HikariDataSource(hc);
        try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
            s.execute("INSERT INTO t (v) VALUES ('a'), ('b'), ('c')");
        }
    }

    @AfterEach
    void close() {
        pool.close();
    }

    @Test
    void aStatementOutlivesThePooledConnectionAndIsReusedOnTheNextCheckout() throws SQLException {
        PreparedStatement first;
        try (Connection c = pool.getConnection(); Prepared p = cache.prepare(c, "SELECT v FROM t WHERE id = ?")) {
            first = p.statement();
            assertThat(read(first, 2)).isEqualTo("b");
        }
        // The pool's proxy would have closed a statement prepared through it; this one is on the shelf.
        try (Connection c = pool.getConnection(); Prepared p = cache.prepare(c, "SELECT v FROM t WHERE id = ?")) {
            assertThat(p.statement()).isSameAs(first);
            assertThat(read(p.statement(), 3)).isEqualTo("c");
            assertThat(cache.shelved(c)).isZero();   // borrowed, so off the shelf
        }
    }

    @Test
    void twoBorrowersOfOneConnectionNeverShareAStatement() throws SQLException {
        try (Connection c = pool.getConnection()) {
            String sql = "SELECT v FROM t WHERE id = ?";
            try (Prepared a = cache.prepare(c, sql); Prepared b = cache.prepare(c, sql)) {
                assertThat(a.statement()).isNotSameAs(b.statement());
                a.statement().setLong(1, 1);
                b.statement().setLong(1, 2);
                assertThat(read(a.statement())).isEqualTo("a");
                assertThat(read(b.statement())).isEqualTo("b");
            }
            assertThat(cache.shelved(c)).isEqualTo(1);   // only one copy goes back
        }
    }

    @Test
    void parametersOfTheLastUseAreClearedBeforeTheNextBorrower() throws SQLException {
        try (Connection c = pool.getConnection()) {
            String insert = "INSERT INTO t (id, v) VALUES (?, ?)";
            try (Prepared p = cache.prepare(c, insert)) {
                p.statement().setLong(1, 10);
                p.statement().setString(2, "kept");
                p.statement().executeUpdate();
            }
            try (Prepared p = cache.prepare(c, insert)) {
                p.statement().setLong(1, 11);   // the value is not bound this time: NULL, not "kept"
                p.statement().executeUpdate();
            }
            try (Prepared p = cache.prepare(c, "SELECT v FROM t WHERE id = ?")) {
                assertThat(read(p.statement(), 11)).isNull();
            }
        }
    }

    @Test
    void aShelvedStatementHoldsNoReadSnapshotOnceItsResultSetIsClosed() throws SQLException {
        try (Connection reader = pool.getConnection(); Connection writer = pool.getConnection()) {
            try (Prepared p = cache.prepare(reader, "SELECT v FROM t ORDER BY id");
                 ResultSet rs = p.statement().executeQuery()) {
                assertThat(rs.next()).isTrue();   // stops after the first of three rows
            }
            try (Statement s = writer.createStatement()) {
                s.execute("INSERT INTO t (v) VALUES ('d')");
                try (ResultSet rs = s.executeQuery("PRAGMA wal_checkpoint(TRUNCATE)")) {
                    rs.next();
                    // busy = 1 if a reader still pinned an old snapshot of the WAL
                    assertThat(rs.getInt(1)).as("checkpoint blocked by a reader").isZero();
                }
            }
        }
    }

    @Test
    void aShelfKeepsABoundedNumberOfStatements() throws SQLException {
        try (Connection c = pool.getConnection()) {
            for (int i = 0; i < StatementCache.MAX_PER_CONNECTION + 20; i++) {
                try (Prepared p = cache.prepare(c, "SELECT v FROM t WHERE id = " + i)) {
                    read(p.statement());
                }
            }
            assertThat(cache.shelved(c)).isEqualTo(StatementCache.MAX_PER_CONNECTION);
        }
    }

    @Test
    void shelvesOfClosedConnectionsAreDroppedWhenANewConnectionAppears() throws SQLException {
        SQLiteDataSource direct = new SQLiteDataSource();
        direct.setUrl("jdbc:sqlite:" + dir.resolve("cache.db"));
        Connection gone = direct.getConnection();
        try (Prepared p = cache.prepare(gone, "SELECT v FROM t WHERE id = 1")) {
            read(p.statement());
        }
        assertThat(cache.shelved(gone)).isEqualTo(1);
        gone.close();
        try (Connection fresh = direct.getConnection(); Prepared p = cache.prepare(fresh, "SELECT v FROM t WHERE id = 1")) {
            read(p.statement());
        }
        assertThat(cache.shelved(gone)).isZero();
    }

    @Test
    void connectionsOfAnotherDriverGetStatementsOfTheirOwn() throws SQLException {
        StatementCache other = new StatementCache(OtherConnection.class);
        try (Connection c = pool.getConnection()) {
            PreparedStatement ps;
            try (Prepared p = other.prepare(c, "SELECT v FROM t WHERE id = 1")) {
                ps = p.statement();
                read(ps);
            }
            assertThat(ps.isClosed()).isTrue();
            assertThat(other.shelved(c)).isZero();
        }
    }

    private static String read(PreparedStatement ps, long id) throws SQLException {
        ps.setLong(1, id);
        return read(ps);
    }

    private static String read(PreparedStatement ps) throws SQLException {
        try (ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /** A connection type no SQLite connection is. */
    private interface OtherConnection extends Connection {
    }
}
