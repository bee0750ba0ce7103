package io.courier.spi.engine;

import io.courier.Message;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/** A broker in memory for engine tests: records waiting, what was settled, released, extended. */
final class FakeSource implements DeliverySource<Integer> {

    final ConcurrentLinkedDeque<Fetched<Integer>> available = new ConcurrentLinkedDeque<>();
    final List<Settled<Integer>> settled = new CopyOnWriteArrayList<>();
    final List<Fetched<Integer>> released = new CopyOnWriteArrayList<>();
    final List<Integer> asked = new CopyOnWriteArrayList<>();
    final List<Long> extendedUntil = new CopyOnWriteArrayList<>();
    final List<String> settleThreads = new CopyOnWriteArrayList<>();
    final AtomicInteger failuresLeft = new AtomicInteger();
    final AtomicInteger exchanges = new AtomicInteger();
    final java.util.Set<String> exchangeThreads = java.util.concurrent.ConcurrentHashMap.newKeySet();
    final Signal wake = new Signal();
    volatile boolean onWorker;
    volatile boolean pull;
    volatile boolean leases;
    volatile Function<Fetched<Integer>, Boolean> extendAnswer = f -> true;
    volatile Function<Settled<Integer>, Duration> inPlace = s -> null;
    volatile Function<Fetched<Integer>, Boolean> startable = f -> true;
    volatile SourceContext<Integer> context;
    volatile Duration keepAlive;
    /** Exchanges that asked for nothing and settled nothing (keep-alive calls). */
    final AtomicInteger idleExchanges = new AtomicInteger();
    volatile boolean closed;

    /** Adds records 0..n-1 with the given lane function. */
    void add(int from, int n, Function<Integer, Object> lane) {
        for (int i = from; i < from + n; i++) {
            available.add(Fetched.of(i, Message.of(("m" + i).getBytes()), 1).inLane(lane.apply(i)));
        }
        wake.signal();
    }

    void add(Fetched<Integer> f) {
        available.add(f);
        wake.signal();
    }

    @Override
    public void start(SourceContext<Integer> context) {
        this.context = context;
    }

    @Override
    public List<Fetched<Integer>> exchange(List<Settled<Integer>> toSettle, int max, Duration maxWait) throws Exception {
        exchanges.incrementAndGet();
        exchangeThreads.add(Thread.currentThread().getName());
        if (failuresLeft.get() > 0 && failuresLeft.getAndDecrement() > 0) {
            throw new IOException("broker down");
        }
        settled.addAll(toSettle);
        if (max == 0 && toSettle.isEmpty()) {
            idleExchanges.incrementAndGet();
        }
        if (max > 0) {
            asked.add(max);
        }
        List<Fetched<Integer>> out = drain(max);
        if (out.isEmpty() && max > 0 && !maxWait.isZero()) {
            wake.await(maxWait.toNanos());
            out = drain(max);
        }
        return out;
    }

    private List<Fetched<Integer>> drain(int max) {
        List<Fetched<Integer>> out = new ArrayList<>();
        Fetched<Integer> f;
        while (out.size() < max && (f = available.poll()) != null) {
            out.add(f);
        }
        return out;
    }

    @Override
    public boolean settlesOnWorker() {
        return onWorker;
    }

    @Override
    public boolean fetchesOnWorker() {
        return pull;
    }

    @Override
    public void settle(Settled<Integer> s) {
        settleThreads.add(Thread.currentThread().getName());
        settled.add(s);
    }

    @Override
    public boolean mayStart(Fetched<Integer> f) {
        return startable.apply(f);
    }

    @Override
    public Duration inPlaceRetry(Settled<Integer> s) {
        return inPlace.apply(s);
    }

    @Override
    public void release(List<Fetched<Integer>> unhandled) {
        released.addAll(unhandled);
    }

    @Override
    public boolean extendsLeases() {
        return leases;
    }

    @Override
    public boolean[] extendLeases(List<Fetched<Integer>> held, long until) {
        boolean[] out = new boolean[held.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = extendAnswer.apply(held.get(i));
        }
        extendedUntil.add(until);
        return out;
    }

    @Override
    public Duration keepAliveInterval() {
        return keepAlive;
    }

    @Override
    public void wakeUp() {
        wake.signal();
    }

    @Override
    public void close() {
        closed = true;
    }

    List<Integer> settledIds() {
        List<Integer> ids = new ArrayList<>();
        for (Settled<Integer> s : settled) {
            ids.add(s.record());
        }
        return ids;
    }

    List<Integer> releasedIds() {
        List<Integer> ids = new ArrayList<>();
        for (Fetched<Integer> f : released) {
            ids.add(f.record());
        }
        return ids;
    }
}
