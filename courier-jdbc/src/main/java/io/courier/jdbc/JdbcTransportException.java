package io.courier.jdbc;

import io.courier.CourierException;
import java.util.Objects;

/**
 * The SQL transport could not do what was asked because of the database: it cannot be reached,
 * refused the login, denied a permission, or holds a schema this version cannot use. The message
 * names the database, what was being done, and what to check; {@link #reason()} classifies it for
 * code that wants to react (for example retry later on {@link Reason#CONNECTION}).
 */
public class JdbcTransportException extends CourierException {

    /** What kind of database problem this is. */
    public enum Reason {
        /** The database cannot be reached: down, wrong host or port, network cut, pool exhausted. */
        CONNECTION,
        /** The database refused the credentials, or the database named in the URL does not exist. */
        AUTHENTICATION,
        /** The user may not do what Courier needs (create tables, write rows), or the file is read-only. */
        PERMISSION,
        /** The schema is newer than this library, or was changed by hand. */
        SCHEMA,
        /** Anything else the database reported. */
        DATABASE
    }

    private final Reason reason;

    /** An exception of {@code reason} with a message and its cause. */
    public JdbcTransportException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** The classification of the failure. */
    public Reason reason() {
        return reason;
    }
}
