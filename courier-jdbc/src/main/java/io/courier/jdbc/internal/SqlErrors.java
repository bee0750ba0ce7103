package io.courier.jdbc.internal;

import io.courier.jdbc.JdbcTransportException;
import io.courier.jdbc.JdbcTransportException.Reason;
import io.courier.sql.SqlFailure;

/**
 * Turns driver exceptions into {@link JdbcTransportException}s, with the translation every SQL module
 * shares ({@link io.courier.sql.SqlErrors}): the reason, and a message that names the database and
 * says what to check. Links no driver class.
 */
public final class SqlErrors {

    private static final String BUSY_TIMEOUT_ADVICE = "raise JdbcTransport.Builder.busyTimeout";

    private SqlErrors() {
    }

    /**
     * Classifies {@code e}.
     *
     * @param action what Courier was doing, e.g. {@code "creating the schema"}
     * @param target the database, e.g. {@code "PostgreSQL at jdbc:postgresql://db/app as user 'app'"}
     */
    public static JdbcTransportException translate(String action, String target, Throwable e) {
        SqlFailure failure = io.courier.sql.SqlErrors.explain(target, e, BUSY_TIMEOUT_ADVICE);
        return new JdbcTransportException(reason(failure.reason()), failure.message(action), e);
    }

    /** True when {@code e} means the database cannot be reached (a transient condition). */
    public static boolean isConnectionFailure(Throwable e) {
        return io.courier.sql.SqlErrors.isConnectionFailure(e);
    }

    /** The reason for {@code e}, from the most specific evidence in its cause chain. */
    static Reason classify(Throwable e) {
        return reason(io.courier.sql.SqlErrors.classify(e));
    }

    /** True when {@code e} says the SQLite file stayed locked by another connection past the busy timeout. */
    static boolean isSqliteBusy(Throwable e) {
        return io.courier.sql.SqlErrors.isSqliteBusy(e);
    }

    /** The transport's public reason for a shared one: the two enums name the same cases. */
    private static Reason reason(SqlFailure.Reason reason) {
        return Reason.valueOf(reason.name());
    }
}
