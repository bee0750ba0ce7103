package io.courier.tasks;

import io.courier.tasks.internal.FetchGate;
import io.courier.tasks.internal.QueueSelector;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fetching half of a server's processor (Asynq's {@code processor.go} fetch): a loop, run by each
 * fetcher thread, that takes free worker slots, claims up to one batch of tasks for them and hands
 * each claimed task to the {@link Processor}; when every queue was empty it waits at the
 * {@link FetchGate} until tasks are announced or the poll interval passes.
 *
 * <p><b>Which queue.</b> The {@link QueueSelector} plans the queue of every slot of the batch by
 * weight, and each planned queue is claimed from once, for its share of the batch: a batch of 16
 * over {@code critical 6, default 3, low 1} is typically three claims of about 10, 5 and 1. Slots
 * whose queue had fewer tasks go to the others in the selector's order (work-conserving); with
 * strict priority all slots go to the highest queue first, then down the order.
 *
 * <p>Thread-safe: the fetcher threads of one server share one instance.
 */
final class Fetcher {

    private static final Logger log = LoggerFactory.getLogger(Fetcher.class);

    private final TaskStore store;
    private final QueueSelector selector;
    private final FetchGate gate;
    private final Workers workers;
    private final Consumer<ClaimedTask> dispatch;
    private final BooleanSupplier running;
    private final String serverId;
    private final Clock clock;
    private final Duration leaseDuration;
    private final Duration pollInterval;
    private final int fetchBatch;

    /**
     * A fetcher that claims as {@code serverId} for {@code leaseDuration}, at most {@code fetchBatch}
     * tasks per batch, hands them to {@code dispatch} and stops once {@code running} says false.
     */
    Fetcher(TaskStore store, QueueSelector selector, FetchGate gate, Workers workers, Consumer<ClaimedTask> dispatch,
            BooleanSupplier running, String serverId, Clock clock, Duration leaseDuration, Duration pollInterval,
            int fetchBatch) {
        this.store = store;
        this.selector = selector;
        this.gate = gate;
        this.workers = workers;
        this.dispatch = dispatch;
        this.running = running;
        this.serverId = serverId;
        this.clock = clock;
        this.leaseDuration = leaseDuration;
        this.pollInterval = pollInterval;
        this.fetchBatch = fetchBatch;
    }

    /** The loop of one fetcher thread; returns when the server stops running or the thread is interrupted. */
    void loop() {
        try {
            while (running.getAsBoolean()) {
                int batch = workers.take(fetchBatch, pollInterval);
                if (batch > 0 && !fetchAndDispatch(batch)) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    /**
     * One round: claims up to {@code batch} tasks for the slots taken and dispatches them.
     *
     * @return false when the server stopped during the claim (what it claimed was given back)
     */
    private boolean fetchAndDispatch(int batch) throws InterruptedException {
        List<ClaimedTask> claimed;
        try {
            gate.fetching(batch);
            claimed = fetch(batch);
        } catch (RuntimeException e) {
            workers.release(batch);
            log.warn("task server {}: fetching failed; retrying in {}", serverId, pollInterval, e);
            pause();
            return true;
        }
        workers.release(batch - claimed.size());
        if (!running.getAsBoolean()) {
            giveBack(claimed);
            return false;
        }
        claimed.forEach(dispatch);
        if (claimed.isEmpty()) {
            pause();
        }
        return true;
    }

    /** Claims up to {@code batch} tasks: each queue of the selector's plan for its slots, then the rest. */
    List<ClaimedTask> fetch(int batch) {
        List<ClaimedTask> result = new ArrayList<>(batch);
        Set<String> dry = new HashSet<>();
        for (Map.Entry<String, Integer> slots : selector.plan(batch).entrySet()) {
            if (!running.getAsBoolean()) {
                return result;
            }
            claimInto(result, slots.getKey(), slots.getValue(), dry);
        }
        for (String queue : selector.nextOrder()) {
            if (result.size() >= batch || !running.getAsBoolean()) {
                break;
            }
            if (!dry.contains(queue)) {
                claimInto(result, queue, batch - result.size(), dry);
            }
        }
        return result;
    }

    private void claimInto(List<ClaimedTask> result, String queue, int max, Set<String> dry) {
        List<ClaimedTask> got = store.claim(queue, max, serverId, clock.instant(), leaseDuration);
        result.addAll(got);
        if (got.size() < max) {
            dry.add(queue);   // empty or paused for now: its slots go to the other queues
        }
    }

    /** Shutdown began during a claim: return what was claimed, untouched and uncounted. */
    private void giveBack(List<ClaimedTask> claimed) {
        for (ClaimedTask task : claimed) {
            try {
                store.requeue(new Lease(task.info().id(), task.leaseToken()));
            } catch (RuntimeException e) {
                log.warn("task server {}: could not return task {} claimed during shutdown; it is recovered when "
                        + "its lease expires", serverId, task.info().id(), e);
            }
            workers.release(1);
        }
    }

    /** Waits until tasks are announced or the poll interval passes (see {@link FetchGate}). */
    private void pause() throws InterruptedException {
        if (running.getAsBoolean()) {
            gate.await(pollInterval);
        }
    }
}
