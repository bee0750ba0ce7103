package io.courier.tasks.conformance;

import io.courier.tasks.redis.RedisTaskStore;
import io.courier.tasks.spi.TaskStore;
import io.courier.tasks.sql.SqlTaskStore;
import java.nio.file.Path;
import java.util.List;

/**
 * Opens a task store from a small text spec, so that a test and a child JVM it spawns reach the same
 * store: {@code sqlite <file>}, {@code postgres <schema>}, {@code redis <key prefix>}.
 */
public final class TestStores {

    /** The PostgreSQL database the tests use (trust auth). */
    public static final String POSTGRES_URL = "jdbc:postgresql://127.0.0.1:5432/test";
    /** The PostgreSQL user. */
    public static final String POSTGRES_USER = "postgres";
    /** The Redis server the tests use. */
    public static final String REDIS_URI = "redis://127.0.0.1:6379/0";

    private TestStores() {
    }

    /** Opens the store described by {@code spec}. */
    public static TaskStore open(List<String> spec) {
        return switch (spec.get(0)) {
            case "sqlite" -> SqlTaskStore.sqlite(Path.of(spec.get(1)));
            case "postgres" -> SqlTaskStore.postgres(POSTGRES_URL + "?currentSchema=" + spec.get(1), POSTGRES_USER, "");
            case "redis" -> RedisTaskStore.connect(REDIS_URI, spec.get(1));
            default -> throw new IllegalArgumentException("unknown store spec " + spec);
        };
    }
}
