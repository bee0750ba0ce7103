package io.courier.memory;

import io.courier.spi.Outcome;
import io.courier.spi.engine.DeliverySource;
import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Settled;
import io.courier.spi.engine.SourceContext;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The in-memory transport's {@link DeliverySource}: each handler thread claims from the group queue
 * for itself and settles on its own thread (the queue is in memory, so both are cheap). Per-key order
 * is the queue's own (only a key's earliest message is ever visible), so records carry no lane.
 */
final class MemorySource implements DeliverySource<GroupQueue.Claimed> {

    private final GroupQueue queue;
    private final Duration leaseTimeout;
    private final Clock clock;
    private volatile SourceContext<GroupQueue.Claimed> context;

    MemorySource(GroupQueue queue, Duration leaseTimeout, Clock clock) {
        this.queue = queue;
        this.leaseTimeout = leaseTimeout;
        this.clock = clock;
    }

    @Override
    public void start(SourceContext<GroupQueue.Claimed> context) {
        this.context = context;
    }

    @Override
    public List<Fetched<GroupQueue.Claimed>> exchange(List<Settled<GroupQueue.Claimed>> settled, int max, Duration maxWait)
            throws InterruptedException {
        if (max == 0) {
            return List.of();
        }
        List<GroupQueue.Claimed> claimed = queue.claimUpTo(max, leaseTimeout, maxWait, context::running);
        List<Fetched<GroupQueue.Claimed>> out = new ArrayList<>(claimed.size());
        long leaseUntil = clock.millis() + leaseTimeout.toMillis();
        for (GroupQueue.Claimed c : claimed) {
            out.add(new Fetched<>(c, c.message(), c.attempt(), null, 0, leaseUntil));
        }
        return out;
    }

    @Override
    public boolean settlesOnWorker() {
        return true;
    }

    /** Claiming is a lock on an in-process queue: each handler thread claims for itself, no hand-off. */
    @Override
    public boolean fetchesOnWorker() {
        return true;
    }

    @Override
    public void settle(Settled<GroupQueue.Claimed> s) {
        GroupQueue.Claimed c = s.record();
        if (s.outcome() instanceof Outcome.Ack) {
            queue.ack(c);
        } else if (s.outcome() instanceof Outcome.Retry r) {
            queue.reschedule(c, r.apply(c.message()), r.delay());
        } else if (s.outcome() instanceof Outcome.Failed f) {
            queue.reschedule(c, c.message(), f.redeliveryDelay());
        }
    }

    @Override
    public void release(List<Fetched<GroupQueue.Claimed>> unhandled) {
        for (int i = unhandled.size() - 1; i >= 0; i--) {
            queue.giveBack(unhandled.get(i).record());   // back to the front, first one first
        }
    }

    @Override
    public boolean extendsLeases() {
        return true;
    }

    @Override
    public boolean[] extendLeases(List<Fetched<GroupQueue.Claimed>> held, long until) {
        boolean[] out = new boolean[held.size()];
        Instant at = Instant.ofEpochMilli(until);
        for (int i = 0; i < out.length; i++) {
            out[i] = queue.extend(held.get(i).record(), at);
        }
        return out;
    }

    @Override
    public void wakeUp() {
        queue.wakeAll();
    }
}
