package io.courier.jdbc.internal;

import java.sql.Connection;
import java.sql.SQLException;

/** A unit of work on a connection that may throw {@link SQLException}. */
@FunctionalInterface
public interface SqlFunction<T> {

    /** Runs the work on {@code connection}. */
    T apply(Connection connection) throws SQLException;
}
