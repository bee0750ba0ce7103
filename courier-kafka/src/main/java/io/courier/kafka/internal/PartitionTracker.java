package io.courier.kafka.internal;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * The records of one assigned partition that were handed out and are not yet committed, in offset
 * order, and from them the offset that is safe to commit: the offset of the first unfinished record,
 * or the offset after the last record when all are finished. Offsets are never committed past a
 * record whose handling (or the publish that settles it) has not finished.
 *
 * <p>Also counts records being worked on right now ({@linkplain #started() active}), which a
 * revocation waits for. Thread-safe: records are added by the thread polling the consumer and
 * finished by others (handlers, publish callbacks).
 */
public final class PartitionTracker {

    private final TopicPartition partition;
    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private long next = -1;
    private int unfinished;
    private int active;
    private volatile boolean revoked;

    /** A tracker for {@code partition} with nothing handed out yet. */
    public PartitionTracker(TopicPartition partition) {
        this.partition = partition;
    }

    /** The partition. */
    public TopicPartition partition() {
        return partition;
    }

    /** Records the record at {@code offset} as handed out; offsets must increase. */
    public synchronized Entry add(long offset) {
        if (offset < next) {
            throw new IllegalStateException("offset " + offset + " of " + partition + " is below the next expected offset " + next);
        }
        Entry e = new Entry(offset);
        entries.addLast(e);
        next = offset + 1;
        unfinished++;
        return e;
    }

    /** {@link #add(long)} for several records at once, offsets in increasing order. */
    public synchronized Entry[] addAll(long[] offsets) {
        Entry[] added = new Entry[offsets.length];
        for (int i = 0; i < offsets.length; i++) {
            added[i] = add(offsets[i]);
        }
        return added;
    }

    /** Marks {@code entry} finished: it no longer holds back commits. Idempotent. */
    public synchronized void finish(Entry entry) {
        if (!entry.done) {
            entry.done = true;
            unfinished--;
        }
    }

    /** {@link #finish(Entry)} and {@link #stopped()} in one step. */
    public synchronized void finishAndStop(Entry entry) {
        finish(entry);
        stopped();
    }

    /**
     * A worker starts on a record of this partition, unless the partition was revoked: then false
     * and nothing changes. Atomic with {@link #revoke()}, so a revocation that waits for
     * {@link #awaitIdle} never misses a record that started.
     */
    public synchronized boolean tryStart() {
        if (revoked) {
            return false;
        }
        active++;
        return true;
    }

    /** A worker started on a record of this partition. */
    public synchronized void started() {
        active++;
    }

    /** A worker is done with a record of this partition for now (finished, or waiting for a timer). */
    public synchronized void stopped() {
        active--;
        if (active <= 0) {
            notifyAll();
        }
    }

    /**
     * The offset to commit: the first unfinished record's offset, or the offset after the last record
     * handed out when all are finished; -1 when nothing was handed out.
     */
    public synchronized long committable() {
        while (!entries.isEmpty() && entries.peekFirst().done) {
            entries.pollFirst();
        }
        return entries.isEmpty() ? next : entries.peekFirst().offset;
    }

    /** Records handed out and not finished. */
    public synchronized int unfinished() {
        return unfinished;
    }

    /** Records held between the committable offset and the last handed out (finished or not). */
    public synchronized int window() {
        committable();
        return entries.size();
    }

    /** Records being worked on right now. */
    public synchronized int active() {
        return active;
    }

    /**
     * Waits until no record is being worked on, or until {@code deadlineNanos} ({@link System#nanoTime()}).
     *
     * @return true when idle
     */
    public synchronized boolean awaitIdle(long deadlineNanos) throws InterruptedException {
        while (active > 0) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** The partition was taken away: workers must not start on its records any more. */
    public synchronized void revoke() {
        revoked = true;
    }

    /** True once {@link #revoke()} was called. */
    public boolean revoked() {
        return revoked;
    }

    @Override
    public synchronized String toString() {
        return "PartitionTracker{" + partition + ", next=" + next + ", unfinished=" + unfinished + ", active=" + active + '}';
    }

    /** One handed-out record. */
    public static final class Entry {
        private final long offset;
        private boolean done;

        private Entry(long offset) {
            this.offset = offset;
        }

        /** The record's offset. */
        public long offset() {
            return offset;
        }
    }

    /**
     * The offsets of {@code trackers} worth committing: each partition's {@link #committable()}
     * offset where it is past what {@code committed} says was committed already.
     */
    static Map<TopicPartition, OffsetAndMetadata> committable(Collection<PartitionTracker> trackers,
                                                              Map<TopicPartition, Long> committed) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (PartitionTracker t : trackers) {
            long c = t.committable();
            if (c >= 0 && c > committed.getOrDefault(t.partition(), -1L)) {
                offsets.put(t.partition(), new OffsetAndMetadata(c));
            }
        }
        return offsets;
    }
}
