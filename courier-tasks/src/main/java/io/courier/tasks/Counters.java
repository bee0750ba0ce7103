package io.courier.tasks;

import io.courier.tasks.spi.TaskStore;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A server's processed and failed counters per queue and UTC day, kept in memory and added to the
 * store's by {@link #flushTo(TaskStore)} (with each heartbeat and at shutdown), so that counting costs
 * no store call per task. Thread-safe.
 */
final class Counters {

    private final Map<Key, long[]> counts = new ConcurrentHashMap<>();

    /** Counts {@code processed} finished attempts of {@code queue} at {@code at}, {@code failed} of them failed. */
    void record(String queue, Instant at, long processed, long failed) {
        counts.merge(new Key(queue, LocalDate.ofInstant(at, ZoneOffset.UTC)), new long[] {processed, failed}, Counters::sum);
    }

    /**
     * Adds what was counted since the last flush to the store's counters. What a failed write held
     * stays for the next flush.
     *
     * @throws RuntimeException what the store threw
     */
    void flushTo(TaskStore store) {
        for (Key key : List.copyOf(counts.keySet())) {
            long[] c = counts.remove(key);
            if (c == null || (c[0] == 0 && c[1] == 0)) {
                continue;
            }
            try {
                store.recordStats(key.queue, key.day, c[0], c[1]);
            } catch (RuntimeException ex) {
                counts.merge(key, c, Counters::sum);
                throw ex;
            }
        }
    }

    private static long[] sum(long[] a, long[] b) {
        return new long[] {a[0] + b[0], a[1] + b[1]};
    }

    private record Key(String queue, LocalDate day) {
    }
}
