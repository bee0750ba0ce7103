package io.courier.tasks;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A running {@link TaskServer} as it last reported itself, from {@link TaskInspector#servers()}.
 * Servers write this with every heartbeat; a server that stops heartbeating disappears from the
 * list once its report expires (three heartbeat intervals).
 *
 * @param id             the server id
 * @param host           the host name
 * @param pid            the process id
 * @param concurrency    how many tasks it runs at once
 * @param queues         the queues it serves with their weights
 * @param strictPriority true if it serves queues in strict priority order
 * @param status         {@code running} or {@code stopping}
 * @param startedAt      when it started
 * @param heartbeatAt    when it last reported
 * @param workers        the tasks it is running
 */
public record ServerInfo(
        String id,
        String host,
        long pid,
        int concurrency,
        Map<String, Integer> queues,
        boolean strictPriority,
        String status,
        Instant startedAt,
        Instant heartbeatAt,
        List<WorkerInfo> workers) {

    /** Checks for nulls and copies the collections. */
    public ServerInfo {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(host, "host");
        queues = Map.copyOf(queues);
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(heartbeatAt, "heartbeatAt");
        workers = List.copyOf(workers);
    }
}
