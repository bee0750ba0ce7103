package io.courier.jdbc;

import io.courier.Transport;
import io.courier.testkit.TransportFactory;
import java.nio.file.Path;
import java.util.Map;

/** Builds the SQLite transport in a child JVM of the conformance suite: config {@code file}. */
public final class SqliteChildFactory implements TransportFactory {

    /** Used by the child JVM. */
    public SqliteChildFactory() {
    }

    @Override
    public Transport create(Map<String, String> config) {
        return JdbcTransport.sqlite(Path.of(config.get("file"))).build();
    }
}
