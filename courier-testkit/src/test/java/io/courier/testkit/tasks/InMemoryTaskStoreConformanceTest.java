package io.courier.testkit.tasks;

import io.courier.tasks.memory.InMemoryTaskStore;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The task-store conformance suite on {@link InMemoryTaskStore}. A store lives in this JVM only, so
 * the SIGKILL test, which needs a second process on the same store, is declared out of reach
 * ({@link #sharedAcrossProcesses()}); a second store "opened from the same config" is
 * {@link InMemoryTaskStore#openAnother()}.
 */
class InMemoryTaskStoreConformanceTest extends TaskStoreConformanceSuite {

    /** The stores of the running tests, by the name in their config. */
    private static final Map<String, InMemoryTaskStore> STORES = new ConcurrentHashMap<>();

    /** The first open of a name creates its store; later opens share its tasks, as a second process would. */
    public static final class Factory implements TaskStoreFactory {
        @Override
        public InMemoryTaskStore open(Map<String, String> config) {
            String name = config.get("name");
            InMemoryTaskStore first = STORES.putIfAbsent(name, InMemoryTaskStore.create());
            return first == null ? STORES.get(name) : first.openAnother();
        }
    }

    @Override
    protected Map<String, String> newStoreConfig() {
        return Map.of("name", "memory-" + UUID.randomUUID());
    }

    @Override
    protected Class<Factory> storeFactory() {
        return Factory.class;
    }

    @Override
    protected void dropStore(Map<String, String> config) {
        STORES.remove(config.get("name"));
    }

    @Override
    protected boolean sharedAcrossProcesses() {
        return false;
    }
}
