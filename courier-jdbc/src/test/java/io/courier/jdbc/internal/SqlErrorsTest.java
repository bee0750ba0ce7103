package io.courier.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.jdbc.JdbcTransportException.Reason;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * SqlErrors recognises sqlite-jdbc's exceptions by class name and result code, without linking the
 * driver (which may be absent): the driver's own exceptions still classify as before, primary and
 * extended codes alike.
 */
class SqlErrorsTest {

    @Test
    void sqliteCannotOpenIsAConnectionFailure() {
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_CANTOPEN))).isEqualTo(Reason.CONNECTION);
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_CANTOPEN_ISDIR))).isEqualTo(Reason.CONNECTION);
    }

    @Test
    void sqliteBusyOrLockedIsATransientConnectionFailure() {
        for (SQLiteErrorCode code : new SQLiteErrorCode[] {SQLiteErrorCode.SQLITE_BUSY, SQLiteErrorCode.SQLITE_BUSY_SNAPSHOT,
                SQLiteErrorCode.SQLITE_LOCKED, SQLiteErrorCode.SQLITE_LOCKED_SHAREDCACHE}) {
            SQLException e = new SQLException("publishing", sqlite(code));
            assertThat(SqlErrors.classify(e)).as(code.name()).isEqualTo(Reason.CONNECTION);
            assertThat(SqlErrors.isSqliteBusy(e)).as(code.name()).isTrue();
        }
    }

    @Test
    void sqliteReadOnlyOrPermissionIsAPermissionError() {
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_READONLY))).isEqualTo(Reason.PERMISSION);
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_READONLY_DBMOVED))).isEqualTo(Reason.PERMISSION);
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_PERM))).isEqualTo(Reason.PERMISSION);
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_AUTH))).isEqualTo(Reason.PERMISSION);
    }

    @Test
    void otherSqliteErrorsAndPlainExceptionsWithTheSameCodeAreDatabaseErrors() {
        assertThat(SqlErrors.classify(sqlite(SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE))).isEqualTo(Reason.DATABASE);
        // Another driver's vendor code 5 is not SQLite's SQLITE_BUSY.
        SQLException other = new SQLException("boom", null, 5);
        assertThat(SqlErrors.classify(other)).isEqualTo(Reason.DATABASE);
        assertThat(SqlErrors.isSqliteBusy(other)).isFalse();
    }

    @Test
    void sqlStatesClassifyPostgresErrors() {
        assertThat(SqlErrors.classify(new SQLException("refused", "08001"))).isEqualTo(Reason.CONNECTION);
        assertThat(SqlErrors.classify(new SQLException("password", "28P01"))).isEqualTo(Reason.AUTHENTICATION);
        assertThat(SqlErrors.classify(new SQLException("denied", "42501"))).isEqualTo(Reason.PERMISSION);
    }

    private static SQLiteException sqlite(SQLiteErrorCode code) {
        return new SQLiteException(code.message, code);
    }
}
