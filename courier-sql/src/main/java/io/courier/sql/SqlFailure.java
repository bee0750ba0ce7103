package io.courier.sql;

import java.util.Objects;

/**
 * What a driver exception means for the user, from {@link SqlErrors#explain}: a reason to react on and
 * a detail that names the database and says what to check. A module builds its own public exception
 * from it, e.g. {@code new JdbcTransportException(reason, failure.message(action), cause)}.
 *
 * @param reason the classification
 * @param detail the database, what it reported and what to check, e.g. {@code "cannot connect to
 *               PostgreSQL at jdbc:postgresql://db/app as user 'app': ConnectException: Connection
 *               refused. Check that the database is running and ..."}
 */
public record SqlFailure(Reason reason, String detail) {

    /** What kind of database problem a failure is. */
    public enum Reason {
        /** The database cannot be reached: down, wrong host, port or file path, network cut, pool exhausted, file locked. */
        CONNECTION,
        /** The database refused the credentials, or the database named in the URL does not exist. */
        AUTHENTICATION,
        /** The user may not do what Courier needs (create tables, write rows), or the file is read-only. */
        PERMISSION,
        /** The schema is newer than this library, or was changed by hand (a table or column is missing). */
        SCHEMA,
        /** Anything else the database reported. */
        DATABASE
    }

    /** Checks that both parts are present. */
    public SqlFailure {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(detail, "detail");
    }

    /** The message for a failure of {@code action}: {@code "<action> failed: <detail>"}. */
    public String message(String action) {
        return action + " failed: " + detail;
    }
}
