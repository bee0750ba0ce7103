package io.courier.tasks.internal;

import io.courier.tasks.spi.ArrivalListener;
import java.time.Instant;

/**
 * Turns a store's announcements into work for one task server: ready tasks wake waiting fetchers
 * (one per batch, see {@link FetchGate}), scheduled tasks set the forwarder's next due time, and
 * possibly lost announcements make both look once.
 */
public final class ServerWakeUp implements ArrivalListener {

    private final FetchGate gate;
    private final DueForwarder forwarder;

    /** Wakes {@code gate}'s fetchers and {@code forwarder}. */
    public ServerWakeUp(FetchGate gate, DueForwarder forwarder) {
        this.gate = gate;
        this.forwarder = forwarder;
    }

    @Override
    public void ready(String queue, int count) {
        gate.ready(count);
    }

    @Override
    public void scheduled(String queue, Instant dueAt) {
        forwarder.dueAt(dueAt);
    }

    @Override
    public void missed() {
        gate.ready(1);
        forwarder.dueAt(Instant.EPOCH);
    }

    @Override
    public String toString() {
        return "task server wake-up";
    }
}
