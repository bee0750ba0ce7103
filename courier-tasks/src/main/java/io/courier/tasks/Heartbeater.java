package io.courier.tasks;

import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A server's heartbeat (Asynq's {@code heartbeat.go}), run every {@code heartbeatInterval}: renews the
 * leases of the running attempts in one store call, interrupts an attempt whose lease was lost (it
 * could not renew in time; the task is someone else's now) and frees its slot, writes the server's
 * report with the tasks it runs, and flushes the {@link Counters}. Called from one thread at a time.
 */
final class Heartbeater {

    private static final Logger log = LoggerFactory.getLogger(Heartbeater.class);

    private final TaskStore store;
    private final Workers workers;
    private final Counters counters;
    private final Clock clock;
    private final Duration leaseDuration;
    private final Duration reportTtl;
    private final Report report;

    /** Makes the server's report. */
    @FunctionalInterface
    interface Report {
        /** The report at {@code now} with the {@code running} tasks; null while the server is neither running nor stopping. */
        ServerInfo at(Instant now, List<WorkerInfo> running);
    }

    /**
     * A heartbeat that extends leases by {@code leaseDuration} and writes the server's report, made by
     * {@code report} from the running tasks (null while the server is not running or stopping), valid
     * for {@code reportTtl}.
     */
    Heartbeater(TaskStore store, Workers workers, Counters counters, Clock clock, Duration leaseDuration,
                Duration reportTtl, Report report) {
        this.store = store;
        this.workers = workers;
        this.counters = counters;
        this.clock = clock;
        this.leaseDuration = leaseDuration;
        this.reportTtl = reportTtl;
        this.report = report;
    }

    /**
     * One beat.
     *
     * @throws RuntimeException what the store threw (the next beat tries again)
     */
    void beat() {
        Instant now = clock.instant();
        renewLeases(now);
        List<WorkerInfo> running = new ArrayList<>();
        for (Execution e : workers.running()) {
            running.add(e.toWorkerInfo());
        }
        ServerInfo info = report.at(now, running);
        if (info != null) {
            store.heartbeatServer(info, now.plus(reportTtl));
        }
        counters.flushTo(store);
    }

    private void renewLeases(Instant now) {
        // Settled attempts are being written (completed, retried, archived): their leases need no renewal.
        List<Execution> running = workers.running().stream().filter(e -> !e.isSettled()).toList();
        if (running.isEmpty()) {
            return;
        }
        List<Lease> leases = new ArrayList<>(running.size());
        for (Execution e : running) {
            leases.add(e.lease);
        }
        Set<String> lost = store.renewLeases(leases, now.plus(leaseDuration));
        for (Execution e : running) {
            if (lost.contains(e.taskId()) && e.settle()) {
                log.warn("task {} lost its lease (renewal came too late); interrupting its handler", e.taskId());
                e.interrupt();
                workers.done(e);
            }
        }
    }
}
