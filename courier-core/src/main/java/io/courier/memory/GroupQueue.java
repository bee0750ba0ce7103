package io.courier.memory;

import io.courier.Message;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.PriorityQueue;
import java.util.TreeSet;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The messages one consumer group still has to handle on one topic: ready ones in arrival order,
 * delayed ones by due time, leased ones by lease expiry. Thread-safe (one lock per group).
 *
 * <p>Per-key order: of the messages with one key, only the earliest the group still has (ready,
 * delayed, leased or waiting for a retry) is ever visible; the others wait in their key's queue until
 * it is acknowledged. So each key has at most one message in flight per group, handled in arrival
 * (publish) order, and a failing message holds its key's later messages back until it is handled.
 * Messages without a key never wait.
 */
final class GroupQueue {

    static final class Entry {
        final long seq;
        final String key;   // null for a message without a key
        Message message;
        Instant visibleAt;
        int deliveries;
        long leaseToken;
        Lease lease;   // the lease held now, if any

        Entry(long seq, Message message, Instant visibleAt) {
            this.seq = seq;
            this.key = message.key().orElse(null);
            this.message = message;
            this.visibleAt = visibleAt;
        }
    }

    /** A message handed to a consumer, with the token that proves it still holds the lease. */
    record Claimed(Entry entry, long token, Message message, int attempt) {
    }

    private record Lease(Entry entry, long token, Instant expiresAt) {
    }

    /** Leases by expiry; tokens are unique, so no two leases compare equal. */
    private static final Comparator<Lease> BY_EXPIRY = Comparator.comparing(Lease::expiresAt).thenComparingLong(Lease::token);

    private final String topic;
    private final String group;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Entry> ready = new ArrayDeque<>();
    private final PriorityQueue<Entry> delayed = new PriorityQueue<>(
            Comparator.comparing((Entry e) -> e.visibleAt).thenComparingLong(e -> e.seq));
    // Only the leases held now: a lease leaves the set when its message is acked or rescheduled, so the
    // set stays as small as the messages in flight.
    private final TreeSet<Lease> leases = new TreeSet<>(BY_EXPIRY);
    /** Keyed messages of the group by key, in arrival order; only the first of each is ready, delayed or leased. */
    private final HashMap<String, ArrayDeque<Entry>> byKey = new HashMap<>();
    /** Messages waiting in {@link #byKey} behind an earlier one of their key. */
    private int waitingForKey;
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
            add(message, deliverAt, clock.instant());
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Offers several messages under one lock, waking every waiting consumer once. */
    void offerAll(List<Message> messages, Instant deliverAt) {
        lock.lock();
        try {
            Instant now = clock.instant();
            for (Message m : messages) {
                add(m, deliverAt, now);
            }
            if (messages.size() == 1) {
                changed.signal();
            } else {
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    private void add(Message message, Instant deliverAt, Instant now) {
        Entry e = new Entry(++nextSeq, message, deliverAt);
        if (e.key != null) {
            ArrayDeque<Entry> sameKey = byKey.computeIfAbsent(e.key, k -> new ArrayDeque<>());
            sameKey.add(e);
            if (sameKey.size() > 1) {
                waitingForKey++;   // becomes visible when the ones before it are acknowledged
                return;
            }
        }
        schedule(e, now);
    }

    private void schedule(Entry e, Instant now) {
        if (e.visibleAt.isAfter(now)) {
            delayed.add(e);
        } else {
            ready.add(e);
        }
    }

    /** {@code e} left the group for good: the next message of its key, if any, may now be handled. */
    private void keyDone(Entry e) {
        if (e.key == null) {
            return;
        }
        ArrayDeque<Entry> sameKey = byKey.get(e.key);
        if (sameKey == null || sameKey.peekFirst() != e) {
            return;
        }
        sameKey.pollFirst();
        Entry next = sameKey.peekFirst();
        if (next == null) {
            byKey.remove(e.key);
            return;
        }
        waitingForKey--;
        schedule(next, clock.instant());
        changed.signal();
    }

    /**
     * Takes up to {@code max} visible messages, leasing each for {@code leaseTimeout}, waiting at most
     * {@code maxWait} for the first. Returns an empty list when none came, or as soon as {@code active}
     * turns false (checked after every wake-up, so a consumer that is closing never takes another
     * message). One lock hold per call, however many it takes.
     */
    List<Claimed> claimUpTo(int max, Duration leaseTimeout, Duration maxWait, BooleanSupplier active)
            throws InterruptedException {
        long deadline = System.nanoTime() + maxWait.toNanos();
        lock.lockInterruptibly();
        try {
            while (true) {
                if (!active.getAsBoolean()) {
                    if (!ready.isEmpty()) {
                        changed.signal();   // pass the wake-up on to a consumer that is still running
                    }
                    return List.of();
                }
                Instant now = clock.instant();
                promoteDue(now);
                if (!ready.isEmpty()) {
                    List<Claimed> out = new ArrayList<>(Math.min(max, ready.size()));
                    Instant expiresAt = now.plus(leaseTimeout);
                    Entry e;
                    while (out.size() < max && (e = ready.poll()) != null) {
                        e.deliveries++;
                        e.leaseToken = ++nextToken;
                        leased++;
                        e.lease = new Lease(e, e.leaseToken, expiresAt);
                        leases.add(e.lease);
                        out.add(new Claimed(e, e.leaseToken, e.message, e.deliveries));
                    }
                    return out;
                }
                long waitNanos = deadline - System.nanoTime();
                if (waitNanos <= 0) {
                    return List.of();
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

    /**
     * Extends the lease of {@code c} to {@code until}.
     *
     * @return false when its lease already expired (someone else may hold the message now)
     */
    boolean extend(Claimed c, Instant until) {
        lock.lock();
        try {
            Entry e = c.entry();
            if (e.leaseToken != c.token()) {
                return false;
            }
            leases.remove(e.lease);
            e.lease = new Lease(e, e.leaseToken, until);
            leases.add(e.lease);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Gives a claimed message back unhandled: visible again at once, the claim not counted as an attempt. */
    void giveBack(Claimed c) {
        lock.lock();
        try {
            Entry e = c.entry();
            if (e.leaseToken != c.token()) {
                return;
            }
            release(e);
            e.deliveries--;
            e.visibleAt = clock.instant();
            ready.addFirst(e);
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    private void promoteDue(Instant now) {
        while (!delayed.isEmpty() && !delayed.peek().visibleAt.isAfter(now)) {
            ready.add(delayed.poll());
        }
        while (!leases.isEmpty() && !leases.first().expiresAt().isAfter(now)) {
            Lease l = leases.pollFirst();
            Entry e = l.entry();
            if (e.leaseToken == l.token()) {   // still held by the consumer that let it expire
                e.leaseToken = 0;
                e.lease = null;
                leased--;
                ready.add(e);
            }
        }
    }

    private Instant nextWakeUp() {
        Instant a = delayed.isEmpty() ? null : delayed.peek().visibleAt;
        Instant b = leases.isEmpty() ? null : leases.first().expiresAt();
        if (a == null) return b;
        if (b == null) return a;
        return a.isBefore(b) ? a : b;
    }

    /** Acknowledges; a stale token (the lease expired and someone else holds it now) is ignored. */
    void ack(Claimed c) {
        lock.lock();
        try {
            Entry e = c.entry();
            if (e.leaseToken == c.token()) {
                release(e);
                keyDone(e);
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
            release(e);
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

    /** Ends the lease {@code e} holds (caller holds the lock and checked the token). */
    private void release(Entry e) {
        leases.remove(e.lease);
        e.lease = null;
        e.leaseToken = 0;
        leased--;
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
            return ready.size() + delayed.size() + leased + waitingForKey;
        } finally {
            lock.unlock();
        }
    }

}
