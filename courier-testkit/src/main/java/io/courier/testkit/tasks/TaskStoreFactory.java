package io.courier.testkit.tasks;

import io.courier.tasks.spi.TaskStore;
import java.util.Map;

/**
 * Opens a task store, both in the test's JVM and in the child JVM of the
 * {@link TaskStoreConformanceSuite}'s SIGKILL test, so that the two reach the same tasks.
 *
 * <p>Implementations live in the store's test code, are public and have a public no-argument
 * constructor: the child JVM loads them by class name. Everything needed to reach the store (a file,
 * a schema, a key prefix) comes in {@code config}, the map {@link TaskStoreConformanceSuite#newStoreConfig()}
 * returned.
 *
 * <pre>{@code
 * public final class SqliteStores implements TaskStoreFactory {
 *     public TaskStore open(Map<String, String> config) {
 *         return SqlTaskStore.sqlite(Path.of(config.get("file")));
 *     }
 * }
 * }</pre>
 */
@FunctionalInterface
public interface TaskStoreFactory {

    /**
     * Opens a store over the location described by {@code config}; the caller closes it.
     *
     * @param config the configuration of one test's store, never null
     * @throws Exception if the store cannot be opened (the child JVM then exits with an error)
     */
    TaskStore open(Map<String, String> config) throws Exception;
}
