package io.courier.tasks;

import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the completions of successful attempts in batches (group commit): the first handler thread
 * to find no write in flight writes everything queued, in one {@link TaskStore#completeAll} call,
 * until the queue is empty; the others return at once. A lone completion is written at once by its
 * own thread; under load one store call completes many tasks.
 *
 * <p>The worker slot is freed at once, so the next task can be fetched while the completion is
 * written, unless {@code concurrency} completions already wait to be written: then it is freed when
 * its own is written, which holds fetching back while the store falls behind.
 *
 * <p>A failed write is tried again ({@value #ATTEMPTS} attempts, {@link #RETRY_DELAY} apart, growing):
 * a completion is not given up on a short database hiccup. If every attempt fails the tasks stay
 * ACTIVE under their lease, which is no longer renewed, so they are recovered and run again when it
 * expires: never lost, at worst run twice, as at-least-once promises. A write that committed although
 * its reply was lost is harmless to repeat: its tasks come back as stale leases.
 *
 * <p>Thread-safe.
 */
final class Completions {

    private static final Logger log = LoggerFactory.getLogger(Completions.class);
    /** Most completions written in one store call. */
    static final int MAX_BATCH = 256;
    /** Attempts at writing one batch of completions before its tasks are left to lease recovery. */
    static final int ATTEMPTS = 3;
    /** Pause after the first failed attempt at writing completions; the second pause is twice as long. */
    static final Duration RETRY_DELAY = Duration.ofMillis(200);

    private final TaskStore store;
    private final Workers workers;
    private final Counters counters;
    private final Clock clock;
    private final int concurrency;
    private final Queue<Execution> queued = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final AtomicInteger awaiting = new AtomicInteger();

    Completions(TaskStore store, Workers workers, Counters counters, Clock clock, int concurrency) {
        this.store = store;
        this.workers = workers;
        this.counters = counters;
        this.clock = clock;
        this.concurrency = concurrency;
    }

    /** Completes the settled, successful attempt {@code e}, in a batch with others that finished meanwhile. */
    void complete(Execution e) {
        if (awaiting.incrementAndGet() <= concurrency) {
            workers.freeEarly(e);
        }
        queued.add(e);
        while (!queued.isEmpty() && writing.compareAndSet(false, true)) {
            try {
                List<Execution> batch = new ArrayList<>();
                Execution next;
                while (batch.size() < MAX_BATCH && (next = queued.poll()) != null) {
                    batch.add(next);
                }
                if (!batch.isEmpty()) {
                    write(batch);
                }
            } finally {
                writing.set(false);
            }
        }
    }

    private void write(List<Execution> batch) {
        try {
            List<Lease> leases = new ArrayList<>(batch.size());
            for (Execution e : batch) {
                leases.add(e.lease);
            }
            Set<String> lost = null;
            RuntimeException failure = null;
            for (int attempt = 1; attempt <= ATTEMPTS && lost == null; attempt++) {
                try {
                    lost = store.completeAll(leases, clock.instant());
                } catch (RuntimeException ex) {
                    if (failure == null) {
                        failure = ex;
                    } else {
                        failure.addSuppressed(ex);
                    }
                    if (attempt < ATTEMPTS && !pauseBeforeRetry(RETRY_DELAY.multipliedBy(attempt))) {
                        break;
                    }
                }
            }
            if (lost == null) {
                for (Execution e : batch) {
                    log.error("task {} finished but could not be marked completed; it runs again after its lease expires",
                            e.taskId(), failure);
                }
                return;
            }
            if (failure != null) {
                log.warn("{} completion(s) written after a failed attempt", batch.size(), failure);
            }
            for (Execution e : batch) {
                if (lost.contains(e.taskId())) {
                    log.warn("task {} finished but its lease had been lost; the result is discarded", e.taskId());
                }
                counters.record(e.context.queue(), clock.instant(), 1, 0);
            }
        } finally {
            awaiting.addAndGet(-batch.size());
            batch.forEach(workers::done);
        }
    }

    /** Sleeps before another attempt at a write; false if interrupted (the interrupt is kept). */
    private static boolean pauseBeforeRetry(Duration delay) {
        try {
            Thread.sleep(delay.toMillis());
            return true;
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
