package io.courier.jdbc;

import io.courier.Transport;
import io.courier.testkit.TransportFactory;
import java.util.Map;

/** Builds the PostgreSQL transport in a child JVM of the conformance suite: config {@code url}, {@code user}. */
public final class PostgresChildFactory implements TransportFactory {

    /** Used by the child JVM. */
    public PostgresChildFactory() {
    }

    @Override
    public Transport create(Map<String, String> config) {
        return JdbcTransport.postgres(config.get("url"), config.get("user"), config.getOrDefault("password", "")).build();
    }
}
