package io.courier.sql;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.sql.SqlFailure.Reason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The error translation against what real drivers throw: PostgreSQL at 127.0.0.1 (trust auth, so a
 * login fails on an unknown user or database, not on a password) and SQLite files.
 */
class SqlErrorsTest {

    @TempDir
    Path dir;

    @Test
    void aWrongPortIsAConnectionFailureThatSaysWhatToCheck() {
        String url = "jdbc:postgresql://127.0.0.1:1/test";
        SQLException e = connectFails(url, TestDatabases.USER);
        SqlFailure f = SqlErrors.explain(SqlPool.postgresTarget(url, TestDatabases.USER), e);

        assertThat(f.reason()).isEqualTo(Reason.CONNECTION);
        assertThat(SqlErrors.isConnectionFailure(e)).isTrue();
        assertThat(f.message("opening the store"))
                .startsWith("opening the store failed: cannot connect to PostgreSQL at " + url + " as user 'postgres': ")
                .contains("Connection refused")
                .endsWith("Check that the database is running and that the host, port and file path are right");
    }

    @Test
    void aPoolThatCannotConnectIsAConnectionFailureToo() {
        String url = "jdbc:postgresql://127.0.0.1:1/test";
        SQLException e = null;
        try (SqlPool pool = SqlPool.postgres(url, "postgres", "",
                SqlPool.Settings.builder("unreachable").connectTimeout(Duration.ofMillis(500)).build());
             Connection c = pool.dataSource().getConnection()) {
            throw new AssertionError("connected to " + url);
        } catch (SQLException expected) {
            e = expected;
        }
        assertThat(SqlErrors.classify(e)).isEqualTo(Reason.CONNECTION);
    }

    @Test
    void anUnknownUserIsRefusedLogin() {
        SQLException e = connectFails(TestDatabases.url(null), "no_such_user_courier");
        SqlFailure f = SqlErrors.explain("PostgreSQL", e);

        assertThat(f.reason()).isEqualTo(Reason.AUTHENTICATION);
        assertThat(f.detail()).startsWith("PostgreSQL refused the login: ").contains("no_such_user_courier")
                .endsWith("Check the user name, the password and the database name");
    }

    @Test
    void anUnknownDatabaseIsRefusedLogin() {
        SQLException e = connectFails("jdbc:postgresql://" + TestDatabases.HOST + ":" + TestDatabases.PORT
                + "/no_such_db_courier", TestDatabases.USER);
        assertThat(SqlErrors.classify(e)).isEqualTo(Reason.AUTHENTICATION);
    }

    @Test
    void aMissingPostgresTableIsASchemaProblem() throws SQLException {
        SQLException e;
        try (Connection c = DriverManager.getConnection(TestDatabases.url(null), TestDatabases.USER, "");
             Statement s = c.createStatement()) {
            e = fails(s, "SELECT * FROM courier_no_such_table");
        }
        assertThat(SqlErrors.isMissingTable(e)).isTrue();
        SqlFailure f = SqlErrors.explain("PostgreSQL", e);
        assertThat(f.reason()).isEqualTo(Reason.SCHEMA);
        assertThat(f.detail()).startsWith("PostgreSQL lacks a table or column Courier uses: ")
                .contains("courier_no_such_table").contains("search_path");
    }

    @Test
    void aMissingSqliteTableIsASchemaProblem() throws SQLException {
        SQLException e;
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("empty.db"));
             Statement s = c.createStatement()) {
            e = fails(s, "SELECT * FROM courier_no_such_table");
        }
        assertThat(SqlErrors.isMissingTable(e)).isTrue();
        assertThat(SqlErrors.classify(e)).isEqualTo(Reason.SCHEMA);
    }

    @Test
    void anSqliteFileLockedPastTheBusyTimeoutSaysSoAndIsTransient() throws Exception {
        Path file = dir.resolve("locked.db");
        try (SqlPool holder = SqlPool.sqlite(file, SqlPool.Settings.builder("holder").build());
             SqlPool waiter = SqlPool.sqlite(file, SqlPool.Settings.builder("waiter").busyTimeout(Duration.ofMillis(50)).build());
             Connection held = holder.dataSource().getConnection();
             Connection c = waiter.dataSource().getConnection()) {
            DatabaseKind.SQLITE.begin(held);
            SQLException e = null;
            try {
                DatabaseKind.SQLITE.begin(c);
            } catch (SQLException expected) {
                e = expected;
            } finally {
                DatabaseKind.SQLITE.rollback(held);
            }
            assertThat((Throwable) e).as("second BEGIN IMMEDIATE").isNotNull();
            SqlFailure f = SqlErrors.explain(waiter.target(), e, "raise Store.busyTimeout");
            assertThat(f.reason()).isEqualTo(Reason.CONNECTION);
            assertThat(f.detail()).startsWith("SQLite file " + file.toAbsolutePath() + " stayed locked by another connection")
                    .endsWith("shorten that transaction or raise Store.busyTimeout");
        }
    }

    @Test
    void aFileThatIsNotAnSqliteDatabaseIsNotAConnectionProblem() throws Exception {
        Path text = dir.resolve("notes.txt");
        Files.writeString(text, "not a database, just some text that is long enough to be read as a header".repeat(20),
                StandardCharsets.UTF_8);
        SQLException e;
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + text); Statement s = c.createStatement()) {
            e = fails(s, "SELECT * FROM sqlite_master");
        }
        SqlFailure f = SqlErrors.explain(SqlPool.sqliteTarget(text), e);
        assertThat(f.reason()).isEqualTo(Reason.DATABASE);
        assertThat(f.detail()).contains("is not an SQLite database").doesNotContain("cannot connect");
    }

    @Test
    void otherSqlErrorsAreDatabaseErrors() {
        assertThat(SqlErrors.classify(new SQLException("syntax error at or near", "42601"))).isEqualTo(Reason.DATABASE);
        assertThat(SqlErrors.classify(new SQLException("denied", "42501"))).isEqualTo(Reason.PERMISSION);
        assertThat(SqlErrors.classify(new RuntimeException("wrapped", new SQLException("gone", "08006"))))
                .isEqualTo(Reason.CONNECTION);
    }

    private static SQLException connectFails(String url, String user) {
        try (Connection c = DriverManager.getConnection(url, user, "")) {
            throw new AssertionError("connected to " + url + " as " + user);
        } catch (SQLException e) {
            return e;
        }
    }

    private static SQLException fails(Statement s, String sql) {
        try {
            s.executeQuery(sql).close();
            throw new AssertionError("succeeded: " + sql);
        } catch (SQLException e) {
            return e;
        }
    }
}
