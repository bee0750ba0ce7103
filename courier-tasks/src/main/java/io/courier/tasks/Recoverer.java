package io.courier.tasks;

import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server's recoverer (Asynq's {@code recoverer.go}), run every {@code recoveryInterval}: finds the
 * tasks of its queues whose lease expired (their worker crashed, was killed or cut off) and has the
 * store count the lost attempt as a failure ({@link TaskServer#LEASE_EXPIRED_ERROR}): RETRY due at
 * once, or ARCHIVED when no retry was left. Recovered tasks are counted as processed and failed, and
 * {@code dueAt} hears that they are due now. Called from one thread at a time.
 */
final class Recoverer {

    private static final Logger log = LoggerFactory.getLogger(Recoverer.class);

    private final TaskStore store;
    private final List<String> queues;
    private final Counters counters;
    private final Clock clock;
    private final Consumer<Instant> dueAt;
    private final String serverId;

    Recoverer(TaskStore store, List<String> queues, Counters counters, Clock clock, Consumer<Instant> dueAt,
              String serverId) {
        this.store = store;
        this.queues = List.copyOf(queues);
        this.counters = counters;
        this.clock = clock;
        this.dueAt = dueAt;
        this.serverId = serverId;
    }

    /**
     * One pass over every queue.
     *
     * @return how many tasks were recovered
     * @throws RuntimeException what the store threw (the next pass tries again)
     */
    int recover() {
        Instant now = clock.instant();
        int total = 0;
        for (String queue : queues) {
            int recovered = store.recoverExpiredLeases(List.of(queue), now, TaskServer.LEASE_EXPIRED_ERROR);
            if (recovered > 0) {
                dueAt.accept(now);
                log.warn("task server {} recovered {} task(s) of queue '{}' whose worker stopped renewing its lease",
                        serverId, recovered, queue);
                counters.record(queue, now, recovered, recovered);
                total += recovered;
            }
        }
        return total;
    }
}
