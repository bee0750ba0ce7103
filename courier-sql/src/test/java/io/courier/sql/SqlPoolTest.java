package io.courier.sql;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqlPoolTest {

    @TempDir
    Path dir;

    @Test
    void anSqliteFileIsCreatedWithItsDirectoriesInWalModeWithTheBusyTimeout() throws Exception {
        Path file = dir.resolve("a/b/c.db");
        try (SqlPool pool = SqlPool.sqlite(file, SqlPool.Settings.builder("t").busyTimeout(Duration.ofMillis(1234)).build());
             Connection c = pool.dataSource().getConnection()) {
            assertThat(pool.kind()).isEqualTo(DatabaseKind.SQLITE);
            assertThat(DatabaseKind.detect(c)).isEqualTo(DatabaseKind.SQLITE);
            assertThat(pool.target()).isEqualTo("SQLite file " + file.toAbsolutePath());
            assertThat(pool.owned()).isTrue();
            assertThat(pragma(c, "journal_mode")).isEqualTo("wal");
            assertThat(pragma(c, "synchronous")).isEqualTo("1");   // NORMAL
            assertThat(pragma(c, "busy_timeout")).isEqualTo("1234");
        }
        assertThat(file).exists();
    }

    @Test
    void aPostgresPoolReachesTheDatabase() throws Exception {
        try (SqlPool pool = SqlPool.postgres(TestDatabases.url(null), TestDatabases.USER, "",
                SqlPool.Settings.builder("t").failFast(true).build());
             Connection c = pool.dataSource().getConnection()) {
            assertThat(DatabaseKind.detect(c)).isEqualTo(DatabaseKind.POSTGRESQL);
            assertThat(pool.target()).isEqualTo("PostgreSQL at " + TestDatabases.url(null) + " as user 'postgres'");
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW application_name")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("courier");
            }
        }
    }

    @Test
    void aFailFastPoolFailsInTheFactoryWithTheDriversError() {
        assertThatThrownBy(() -> SqlPool.postgres("jdbc:postgresql://127.0.0.1:1/test", "postgres", "",
                SqlPool.Settings.builder("t").failFast(true).build()))
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(SqlErrors.classify(e)).isEqualTo(SqlFailure.Reason.CONNECTION));
    }

    @Test
    void aGivenDataSourceIsNeverClosed() throws Exception {
        try (SqlPool owner = SqlPool.sqlite(dir.resolve("given.db"), SqlPool.Settings.builder("owner").build())) {
            SqlPool given = SqlPool.given(owner.dataSource(), DatabaseKind.SQLITE);
            assertThat(given.owned()).isFalse();
            assertThat(given.target()).isEqualTo("SQLite (the given DataSource)");
            given.close();
            try (Connection c = given.dataSource().getConnection()) {
                assertThat(c.isValid(1)).isTrue();
            }
        }
    }

    @Test
    void settingsSayWhatTheyExpected() {
        assertThatThrownBy(() -> SqlPool.Settings.builder("t").maxPoolSize(0))
                .hasMessage("maxPoolSize must be between 1 and 10000, but was 0");
        SqlPool.Settings s = SqlPool.Settings.builder("t").maxPoolSize(1).build();
        assertThat(s.minIdle()).isEqualTo(1);
        assertThat(s.toBuilder().maxPoolSize(5).build().maxPoolSize()).isEqualTo(5);
    }

    private static String pragma(Connection c, String name) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("PRAGMA " + name)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
