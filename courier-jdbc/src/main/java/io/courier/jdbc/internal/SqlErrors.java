package io.courier.jdbc.internal;

import io.courier.jdbc.JdbcTransportException;
import io.courier.jdbc.JdbcTransportException.Reason;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.function.IntPredicate;

/**
 * Turns driver exceptions into {@link JdbcTransportException}s whose messages say what to check.
 *
 * <p>Classifies by SQLState and vendor codes only and never links a driver's classes: either driver
 * may be absent (a PostgreSQL user need not have sqlite-jdbc), and this class runs for both.
 */
public final class SqlErrors {

    /** sqlite-jdbc's exception; its {@link SQLException#getErrorCode()} is SQLite's primary result code. */
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
     * Classifies {@code e}.
     *
     * @param action what Courier was doing, e.g. {@code "creating the schema"}
     * @param target the database, e.g. {@code "PostgreSQL at jdbc:postgresql://db/app as user 'app'"}
     */
    public static JdbcTransportException translate(String action, String target, Throwable e) {
        Reason reason = classify(e);
        String root = rootMessage(e);
        if (isSqliteBusy(e)) {
            return new JdbcTransportException(reason, action + " failed: " + target + " stayed locked by another connection"
                    + " for longer than the busy timeout: " + root + ". Another process or connection holds a write"
                    + " transaction on the file; shorten that transaction or raise JdbcTransport.Builder.busyTimeout", e);
        }
        if (isSqliteNotADatabase(e)) {
            return new JdbcTransportException(reason, action + " failed: " + target + " is not an SQLite database: " + root
                    + ". Give the transport an SQLite database file, or the path of a file that does not exist yet"
                    + " (it is created)", e);
        }
        String advice = switch (reason) {
            case CONNECTION -> "cannot connect to " + target + ": " + root
                    + ". Check that the database is running and that the host, port and file path are right";
            case AUTHENTICATION -> target + " refused the login: " + root
                    + ". Check the user name, the password and the database name";
            case PERMISSION -> target + " denied a permission: " + root
                    + ". Courier needs to create its tables (CREATE on the schema, or a writable directory for SQLite)"
                    + " and to SELECT, INSERT, UPDATE and DELETE on them; on PostgreSQL the schema in the URL's currentSchema"
                    + " (or the search_path) must exist and grant USAGE";
            case SCHEMA -> target + ": " + root;
            case DATABASE -> target + " reported an error: " + root;
        };
        return new JdbcTransportException(reason, action + " failed: " + advice, e);
    }

    /** True when {@code e} means the database cannot be reached (a transient condition). */
    public static boolean isConnectionFailure(Throwable e) {
        return classify(e) == Reason.CONNECTION;
    }

    /** The reason for {@code e}, from the most specific evidence in its cause chain. */
    static Reason classify(Throwable e) {
        if (isSqliteNotADatabase(e)) {   // not transient, whatever the pool that saw it says
            return Reason.DATABASE;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException || t instanceof UnknownHostException || t instanceof NoRouteToHostException
                    || t instanceof SocketTimeoutException || t instanceof SocketException) {
                return Reason.CONNECTION;
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
            if (t instanceof IllegalStateException && String.valueOf(t.getMessage()).contains("schema")) {
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

    /** True when {@code e} says the SQLite file stayed locked by another connection past the busy timeout. */
    static boolean isSqliteBusy(Throwable e) {
        return hasSqliteCode(e, SqlErrors::isBusyCode);
    }

    /** True when {@code e} says the file is not an SQLite database (a text file, another format, garbage). */
    static boolean isSqliteNotADatabase(Throwable e) {
        return hasSqliteCode(e, code -> code == SQLITE_NOTADB);
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

    /** The most specific message in the cause chain. */
    static String rootMessage(Throwable e) {
        String msg = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                msg = t.getClass().getSimpleName() + ": " + t.getMessage();
            }
        }
        return msg == null ? e.getClass().getName() : msg;
    }
}
