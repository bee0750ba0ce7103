package io.courier.tasks;

import io.courier.tasks.spi.TaskStore;
import java.time.Clock;

/**
 * A server's janitor (Asynq's {@code janitor.go}), run every {@code recoveryInterval} after the
 * {@link Recoverer}: deletes completed tasks whose retention ended (and whatever else the store
 * expires with them, e.g. reports of servers that stopped heartbeating).
 */
final class Janitor {

    private final TaskStore store;
    private final Clock clock;

    Janitor(TaskStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /**
     * One pass.
     *
     * @return how many completed tasks were deleted
     * @throws RuntimeException what the store threw (the next pass tries again)
     */
    int clean() {
        return store.deleteExpiredCompleted(clock.instant());
    }
}
