package io.courier.jdbc.internal;

import java.sql.PreparedStatement;
import java.sql.SQLException;

/**
 * A prepared statement borrowed for one use. Closing it gives it back to the {@link StatementCache}
 * it came from, or closes it when it came from none. Not thread-safe: one borrower at a time, which
 * the cache guarantees by handing each statement to one borrower only.
 */
final class Prepared implements AutoCloseable {

    private final PreparedStatement statement;
    private final StatementCache.Shelf shelf;
    private final String sql;

    private Prepared(PreparedStatement statement, StatementCache.Shelf shelf, String sql) {
        this.statement = statement;
        this.shelf = shelf;
        this.sql = sql;
    }

    /** A statement of its own: closing the borrow closes it. */
    static Prepared unshared(PreparedStatement statement) {
        return new Prepared(statement, null, null);
    }

    /** A statement of {@code shelf}: closing the borrow puts it back there. */
    static Prepared shelved(PreparedStatement statement, StatementCache.Shelf shelf, String sql) {
        return new Prepared(statement, shelf, sql);
    }

    /** The statement; valid until {@link #close()}. */
    PreparedStatement statement() {
        return statement;
    }

    @Override
    public void close() throws SQLException {
        if (shelf == null) {
            statement.close();
        } else {
            shelf.giveBack(sql, statement);
        }
    }
}
