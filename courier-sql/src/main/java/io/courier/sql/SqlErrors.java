package io.courier.sql;

import io.courier.sql.SqlFailure.Reason;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.function.IntPredicate;

/**
 * Turns driver exceptions into {@link SqlFailure}s: a {@linkplain SqlFailure.Reason reason} and a
 * message that names the database and says what to check. One translation for every SQL module.
 *
 * <p>Classifies by SQLState, by SQLite's result codes and by the Java exceptions in the cause chain
 * only, and never links a driver's classes: either driver may be absent (a PostgreSQL user need not
 * have sqlite-jdbc), and this class runs for both. sqlite-jdbc's exception is recognised by its class
 * name. Thread-safe (stateless).
 */
public final class SqlErrors {

    /** What {@link #explain(String, Throwable)} advises for a file locked past the busy timeout. */
    public static final String DEFAULT_BUSY_TIMEOUT_ADVICE = "raise the busy timeout";

    /** sqlite-jdbc's exception; its {@link SQLException#getErrorCode()} is SQLite's result code. */
    private static final String SQLITE_EXCEPTION = "org.sqlite.SQLiteException";
    // SQLite's primary result codes (https://www.sqlite.org/rescode.html); extended codes share the low byte.
    private static final int SQLITE_PERM = 3;
    private static final int SQLITE_BUSY = 5;
    private static final int SQLITE_LOCKED = 6;
    private static final int SQLITE_READONLY = 8;
    private static final int SQLITE_CANTOPEN = 14;
    private static final int SQLITE_AUTH = 23;
    private static final int SQLITE_NOTADB = 26;

    private SqlErrors() {
    }

    /**
     * Explains {@code e} as {@link #explain(String, Throwable, String)} does, advising to
     * {@value #DEFAULT_BUSY_TIMEOUT_ADVICE} when an SQLite file stayed locked.
     */
    public static SqlFailure explain(String target, Throwable e) {
        return explain(target, e, DEFAULT_BUSY_TIMEOUT_ADVICE);
    }

    /**
     * Classifies {@code e} and says what to check.
     *
     * @param target            the database, e.g. {@code "PostgreSQL at jdbc:postgresql://db/app as user 'app'"}
     *                          or {@code "SQLite file /data/courier.db"}
     * @param e                 what the driver, the pool or the {@link Migrator} threw
     * @param busyTimeoutAdvice how to raise the busy timeout in the calling module, e.g.
     *                          {@code "raise JdbcTransport.Builder.busyTimeout"}
     */
    public static SqlFailure explain(String target, Throwable e, String busyTimeoutAdvice) {
        Reason reason = classify(e);
        String root = rootMessage(e);
        if (isSqliteBusy(e)) {
            return new SqlFailure(reason, target + " stayed locked by another connection for longer than the busy"
                    + " timeout: " + root + ". Another process or connection holds a write transaction on the file;"
                    + " shorten that transaction or " + busyTimeoutAdvice);
        }
        if (isSqliteNotADatabase(e)) {
            return new SqlFailure(reason, target + " is not an SQLite database: " + root + ". Give Courier an SQLite"
                    + " database file, or the path of a file that does not exist yet (it is created)");
        }
        String detail = switch (reason) {
            case CONNECTION -> "cannot connect to " + target + ": " + root
                    + ". Check that the database is running and that the host, port and file path are right";
            case AUTHENTICATION -> target + " refused the login: " + root
                    + ". Check the user name, the password and the database name";
            case PERMISSION -> target + " denied a permission: " + root
                    + ". Courier needs to create its tables (CREATE on the schema, or a writable directory for SQLite)"
                    + " and to SELECT, INSERT, UPDATE and DELETE on them; on PostgreSQL the schema in the URL's currentSchema"
                    + " (or the search_path) must exist and grant USAGE";
            case SCHEMA -> hasCause(e, SchemaTooNewException.class) ? target + ": " + root
                    : target + " lacks a table or column Courier uses: " + root + ". Courier creates and upgrades its"
                    + " tables when it opens; check that they were not dropped, renamed or changed by hand since, and"
                    + " that the connection uses the same schema (the URL's currentSchema or the search_path)";
            case DATABASE -> target + " reported an error: " + root;
        };
        return new SqlFailure(reason, detail);
    }

    /** The reason for {@code e}, from the most specific evidence in its cause chain. */
    public static Reason classify(Throwable e) {
        if (isSqliteNotADatabase(e)) {   // not transient, whatever the pool that saw it says
            return Reason.DATABASE;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException || t instanceof UnknownHostException || t instanceof NoRouteToHostException
                    || t instanceof SocketTimeoutException || t instanceof SocketException) {
                return Reason.CONNECTION;
            }
            if (t instanceof SchemaTooNewException) {
                return Reason.SCHEMA;
            }
            int sqliteCode = sqliteResultCode(t);
            if (sqliteCode == SQLITE_CANTOPEN) {
                return Reason.CONNECTION;
            }
            if (isBusyCode(sqliteCode)) {   // locked by another connection past the busy timeout: transient
                return Reason.CONNECTION;
            }
            if (sqliteCode == SQLITE_READONLY || sqliteCode == SQLITE_PERM || sqliteCode == SQLITE_AUTH) {
                return Reason.PERMISSION;
            }
            if (t instanceof SQLException se && se.getSQLState() != null) {
                String state = se.getSQLState();
                if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02") || state.equals("57P03")
                        || state.equals("53300")) {
                    return Reason.CONNECTION;
                }
                if (state.startsWith("28") || state.equals("3D000")) {
                    return Reason.AUTHENTICATION;
                }
                if (state.equals("42501") || state.equals("3F000")) {   // 3F000: schema missing or not usable
                    return Reason.PERMISSION;
                }
            }
            if (t instanceof SQLException se && (isMissingTable(se) || isMissingColumn(se))) {
                return Reason.SCHEMA;
            }
        }
        // A pool timeout with no more specific cause: the database did not answer in time.
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientConnectionException) {
                return Reason.CONNECTION;
            }
        }
        return Reason.DATABASE;
    }

    /** True when {@code e} means the database cannot be reached (a transient condition). */
    public static boolean isConnectionFailure(Throwable e) {
        return classify(e) == Reason.CONNECTION;
    }

    /** True when {@code e} says the SQLite file stayed locked by another connection past the busy timeout. */
    public static boolean isSqliteBusy(Throwable e) {
        return hasSqliteCode(e, SqlErrors::isBusyCode);
    }

    /** True when {@code e} says the file is not an SQLite database (a text file, another format, garbage). */
    public static boolean isSqliteNotADatabase(Throwable e) {
        return hasSqliteCode(e, code -> code == SQLITE_NOTADB);
    }

    /** True when {@code e} says a table does not exist (PostgreSQL's 42P01, SQLite's "no such table"). */
    public static boolean isMissingTable(SQLException e) {
        return "42P01".equals(e.getSQLState()) || String.valueOf(e.getMessage()).contains("no such table");
    }

    private static boolean isMissingColumn(SQLException e) {
        return "42703".equals(e.getSQLState()) || String.valueOf(e.getMessage()).contains("no such column");
    }

    /** The most specific message in the cause chain, with the simple name of the exception that carried it. */
    public static String rootMessage(Throwable e) {
        String msg = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        return msg == null ? e.getClass().getName() : msg;
    }

    private static boolean hasCause(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    private static boolean hasSqliteCode(Throwable e, IntPredicate test) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (test.test(sqliteResultCode(t))) {
                return true;
            }
        }
        return false;
    }

    private static boolean isBusyCode(int code) {
        return code == SQLITE_BUSY || code == SQLITE_LOCKED;
    }

    /** SQLite's primary result code when {@code t} is sqlite-jdbc's exception, else -1; found by class name. */
    private static int sqliteResultCode(Throwable t) {
        for (Class<?> c = t.getClass(); c != null && c != SQLException.class; c = c.getSuperclass()) {
            if (c.getName().equals(SQLITE_EXCEPTION)) {
                return ((SQLException) t).getErrorCode() & 0xff;
            }
        }
        return -1;
    }
}
