package io.courier.memory;

import io.courier.Message;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.PriorityQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The messages one consumer group still has to handle on one topic: ready ones in arrival order,
 * delayed ones by due time, leased ones by lease expiry. Thread-safe (one lock per group).
 */
final class GroupQueue {

    static final class Entry {
        final long seq;
        Message message;
        Instant visibleAt;
        int deliveries;
        long leaseToken;

        Entry(long seq, Message message, Instant visibleAt) {
            this.seq = seq;
            this.message = message;
            this.visibleAt = visibleAt;
        }
    }

    /** A message handed to a consumer, with the token that proves it still holds the lease. */
    record Claimed(Entry entry, long token, Message message, int attempt) {
    }

    private record Lease(Entry entry, long token, Instant expiresAt) {
    }

    private final String topic;
    private final String group;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Entry> ready = new ArrayDeque<>();
    private final PriorityQueue<Entry> delayed = new PriorityQueue<>(
            Comparator.comparing((Entry e) -> e.visibleAt).thenComparingLong(e -> e.seq));
    private final PriorityQueue<Lease> leases = new PriorityQueue<>(Comparator.comparing(Lease::expiresAt));
    private long nextSeq;
    private long nextToken;
    private int leased;

    GroupQueue(String topic, String group, Clock clock) {
        this.topic = topic;
        this.group = group;
        this.clock = clock;
    }

    String topic() {
        return topic;
    }

    String group() {
        return group;
    }

    void offer(Message message, Instant deliverAt) {
        lock.lock();
        try {
            Entry e = new Entry(++nextSeq, message, deliverAt);
            if (deliverAt.isAfter(clock.instant())) {
                delayed.add(e);
            } else {
                ready.add(e);
            }
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes the next visible message and leases it for {@code leaseTimeout}, waiting at most
     * {@code maxWait} for one. Returns null when none came, or as soon as {@code active} turns false
     * (checked after every wake-up, so a consumer that is closing never takes another message).
     */
    Claimed claim(Duration leaseTimeout, Duration maxWait, BooleanSupplier active) throws InterruptedException {
        long deadline = System.nanoTime() + maxWait.toNanos();
        lock.lockInterruptibly();
        try {
            while (true) {
                if (!active.getAsBoolean()) {
                    if (!ready.isEmpty()) {
                        changed.signal();   // pass the wake-up on to a consumer that is still running
                    }
                    return null;
                }
                Instant now = clock.instant();
                promoteDue(now);
                Entry e = ready.poll();
                if (e != null) {
                    e.deliveries++;
                    e.leaseToken = ++nextToken;
                    leased++;
                    leases.add(new Lease(e, e.leaseToken, now.plus(leaseTimeout)));
                    return new Claimed(e, e.leaseToken, e.message, e.deliveries);
                }
                long waitNanos = deadline - System.nanoTime();
                if (waitNanos <= 0) {
                    return null;
                }
                Instant next = nextWakeUp();
                if (next != null) {
                    waitNanos = Math.min(waitNanos, Math.max(1, Duration.between(now, next).toNanos()));
                }
                changed.awaitNanos(waitNanos);
            }
        } finally {
            lock.unlock();
        }
    }

    private void promoteDue(Instant now) {
        while (!delayed.isEmpty() && !delayed.peek().visibleAt.isAfter(now)) {
            ready.add(delayed.poll());
        }
        while (!leases.isEmpty() && !leases.peek().expiresAt().isAfter(now)) {
            Lease l = leases.poll();
            if (l.entry().leaseToken == l.token()) {   // still held by the consumer that let it expire
                l.entry().leaseToken = 0;
                leased--;
                ready.add(l.entry());
            }
        }
    }

    private Instant nextWakeUp() {
        Instant a = delayed.isEmpty() ? null : delayed.peek().visibleAt;
        Instant b = leases.isEmpty() ? null : leases.peek().expiresAt();
        if (a == null) return b;
        if (b == null) return a;
        return a.isBefore(b) ? a : b;
    }

    /** Acknowledges; a stale token (the lease expired and someone else holds it now) is ignored. */
    void ack(Claimed c) {
        lock.lock();
        try {
            if (c.entry().leaseToken == c.token()) {
                c.entry().leaseToken = 0;
                leased--;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Makes the message visible again after {@code delay}, as {@code message} (headers may have changed). */
    void reschedule(Claimed c, Message message, Duration delay) {
        lock.lock();
        try {
            Entry e = c.entry();
            if (e.leaseToken != c.token()) {
                return;   // lease already expired and the message went back to the queue
            }
            e.leaseToken = 0;
            leased--;
            e.message = message;
            e.visibleAt = clock.instant().plus(delay);
            if (delay.isZero() || delay.isNegative()) {
                ready.add(e);
            } else {
                delayed.add(e);
            }
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes every waiting consumer (used on close). */
    void wakeAll() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Ready, delayed and leased messages. */
    int size() {
        lock.lock();
        try {
            return ready.size() + delayed.size() + leased;
        } finally {
            lock.unlock();
        }
    }

}
