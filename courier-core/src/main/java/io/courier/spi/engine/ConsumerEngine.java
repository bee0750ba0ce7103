package io.courier.spi.engine;

import io.courier.Handler;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.BasicDelivery;
import io.courier.spi.ConsumerThreads;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer engine every transport runs its subscriptions on: a {@link DeliverySource} does the
 * broker I/O, the engine does the rest, the same way on every transport.
 *
 * <ul>
 *   <li><b>Fetching.</b> A fetch thread asks the source for records while fewer than
 *       {@code maxInFlight} are fetched and unsettled, in batches of at most
 *       {@link EngineTuning#fetchBatch()}; with {@link EngineTuning#fetchers()} above one, helper fetch
 *       threads join while the last fetch came back full (a backlog) and sleep when they find
 *       nothing. A source with a {@linkplain DeliverySource#keepAliveInterval() keep-alive interval}
 *       is called at least that often, until it is closed, even when nothing is to be fetched.</li>
 *   <li><b>Handling.</b> Handlers run on the executor (the caller's, or {@code concurrency} threads,
 *       virtual where the runtime has them), at most {@code concurrency} at once. Records of one
 *       {@linkplain Fetched#lane() lane} run one at a time in fetch order; a record that arrived
 *       before it is due waits, holding its lane but no thread. A record the source no longer lets
 *       start ({@link DeliverySource#mayStart}) is skipped and forgotten.</li>
 *   <li><b>Settling.</b> Outcomes go back to the source one by one on the handler's thread, or in
 *       batches with the next fetch (within {@link EngineTuning#settleLinger()}), as the source
 *       prefers.</li>
 *   <li><b>Leases.</b> For a source with leases, every third of the lease timeout the engine extends
 *       the leases of the records it holds that used a third of theirs, so a slow handler is not
 *       redelivered elsewhere while it runs; a record whose lease ran out before it started is
 *       dropped (another consumer may have it).</li>
 *   <li><b>Failures.</b> A failing fetch or settlement is retried with exponential backoff, logged
 *       at WARN at most every 30 seconds, and its recovery logged once. Nothing is dropped: the
 *       settlements of a failed exchange are passed again.</li>
 *   <li><b>Closing.</b> {@link #close(Duration)} stops fetching, lets running handlers finish
 *       within the timeout (then interrupts them and leaves their records unsettled), writes the
 *       settlements, gives records fetched but never started back to the source
 *       ({@link DeliverySource#release}) and closes it.</li>
 * </ul>
 *
 * @param <R> the source's record type
 */
public final class ConsumerEngine<R> implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(ConsumerEngine.class);
    private static final Duration WARN_INTERVAL = Duration.ofSeconds(30);
    private static final long FINAL_FLUSH_GRACE_MILLIS = 5_000;
    private static final long INTERRUPT_GRACE_MILLIS = 5_000;

    /** States of a held record. */
    private static final int NEW = 0;
    private static final int STARTED = 1;
    private static final int DONE = 2;
    /** Not started and no longer this engine's: discarded, lease lost or given back. */
    private static final int GONE = 3;
    /** Failed, waiting in its lane to run again ({@link DeliverySource#inPlaceRetry}); not running. */
    private static final int RETRY_WAIT = 4;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(ConsumerEngine.Held.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final SubscriptionOptions options;
    private final Handler handler;
    private final DeliverySource<R> source;
    private final String name;
    private final Clock clock;
    private final EngineTuning tuning;
    private final EngineListener listener;
    private final Consumer<ConsumerEngine<R>> onClosed;
    private final ExecutorService ownedExecutor;
    private final Executor executor;
    private final Lanes lanes;
    private final boolean settleOnWorker;
    /** Handler threads fetch for themselves ({@link DeliverySource#fetchesOnWorker()}). */
    private final boolean pullMode;
    /** Handler threads still in {@link #pullLoop()}; guarded by {@link #pullers}. */
    private int pullersRunning;
    private final Object pullers = new Object();
    private final boolean leases;
    private final long leaseMillis;
    /** {@link DeliverySource#keepAliveInterval()} in nanoseconds; 0 for none. */
    private final long keepAliveNanos;
    private final int maxInFlight;
    private final int fetchThreshold;
    private final RateLimitedLog warnings;

    /** Records fetched and not settled, by identity; in pull mode only those put aside (see {@link #pullerList}). */
    private final Set<Held> held = ConcurrentHashMap.newKeySet();
    /** Pull mode: the handler threads, each with the batch it fetched last. */
    private final List<Puller> pullerList = new CopyOnWriteArrayList<>();
    /** Pull mode: records put aside until due, by due time; guarded by itself. */
    private final PriorityQueue<Held> due = new PriorityQueue<>(
            Comparator.comparingLong((Held h) -> h.dueAt).thenComparingLong(h -> h.seq));
    /** Pull mode: the earliest due time in {@link #due}, {@code Long.MAX_VALUE} when it is empty. */
    private volatile long nextDue = Long.MAX_VALUE;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong fetchSeq = new AtomicLong();
    private final ConcurrentLinkedQueue<Settled<R>> settled = new ConcurrentLinkedQueue<>();
    private final AtomicInteger settledSinceDrain = new AtomicInteger();
    /** Records that started but were given back while closing (in-place retries waiting at close). */
    private final ConcurrentLinkedQueue<Fetched<R>> givenBack = new ConcurrentLinkedQueue<>();
    private final Object handledMonitor = new Object();
    /** Threads in {@link SourceContext#awaitHandled}; settlements notify only when there are any. */
    private final AtomicInteger handledWaiters = new AtomicInteger();
    /** True while the main fetcher waits for room in the budget (or for settlements to write). */
    private volatile boolean fetcherIdle;
    private final Signal[] signals;
    private final Thread[] fetchers;
    private final Signal closeSignal = new Signal();
    private volatile boolean running = true;
    private volatile boolean handlersDone;
    private volatile boolean abandoning;
    /** True while the main fetcher is inside an exchange that may wait. */
    private volatile boolean waitingInExchange;
    /** True while the last fetch came back full: helper fetchers work only then. */
    private volatile boolean backlogged;
    private long nextLeaseExtension;
    private final Object closeLock = new Object();
    private boolean started;
    private boolean closed;

    private ConsumerEngine(Builder<R> b) {
        this.options = b.options;
        this.handler = b.handler;
        this.source = b.source;
        this.clock = b.clock;
        this.tuning = b.tuning;
        this.listener = b.listener;
        this.onClosed = b.onClosed;
        this.name = b.name != null ? b.name : "courier-" + options.topic() + "-" + options.group();
        this.maxInFlight = options.maxInFlight();
        this.fetchThreshold = Math.max(1, Math.min(tuning.fetchBatch(), maxInFlight) / 2);
        this.settleOnWorker = source.settlesOnWorker();
        this.pullMode = source.fetchesOnWorker();
        if (pullMode && !settleOnWorker) {
            throw new IllegalArgumentException(name + ": a source that fetches on the handler threads must settle there too");
        }
        this.leases = source.extendsLeases();
        this.leaseMillis = options.leaseTimeout().toMillis();
        Duration keepAlive = source.keepAliveInterval();
        this.keepAliveNanos = keepAlive == null ? 0 : Math.max(1, keepAlive.toNanos());
        this.warnings = new RateLimitedLog(log, clock, WARN_INTERVAL);
        Executor executor = b.executor != null ? b.executor : options.executor().orElse(null);
        if (executor == null) {
            ownedExecutor = Executors.newFixedThreadPool(options.concurrency(), ConsumerThreads.factory(name));
            executor = ownedExecutor;
        } else {
            ownedExecutor = null;
        }
        this.executor = executor;
        this.lanes = new Lanes(executor, options.concurrency(), tuning.laneTurn(), clock);
        int n = Math.max(1, Math.min(tuning.fetchers(), maxInFlight / tuning.fetchBatch()));
        this.signals = new Signal[n];
        this.fetchers = new Thread[n];
        for (int i = 0; i < n; i++) {
            int index = i;
            signals[i] = new Signal();
            fetchers[i] = new Thread(() -> fetchLoop(index), name + "-fetch" + (i == 0 ? "" : "-" + i));
            fetchers[i].setDaemon(true);
        }
    }

    /**
     * A builder of an engine consuming for {@code options} with {@code handler} from {@code source}.
     */
    public static <R> Builder<R> builder(SubscriptionOptions options, Handler handler, DeliverySource<R> source) {
        return new Builder<>(options, handler, source);
    }

    /**
     * Starts the source and the fetch threads.
     *
     * @throws io.courier.CourierException or another runtime exception when the source cannot start
     *                                     (the engine is then closed)
     */
    public ConsumerEngine<R> start() {
        synchronized (closeLock) {
            if (started || closed) {
                throw new IllegalStateException(name + ": already started or closed");
            }
            started = true;
        }
        try {
            source.start(new Context());
        } catch (Exception e) {
            running = false;
            shutdownExecutor();
            source.close();
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new io.courier.CourierException(name + ": cannot start consuming: " + e.getMessage(), e);
        }
        for (Thread t : fetchers) {
            t.start();
        }
        if (pullMode) {
            startPullers();
        }
        notify(l -> l.started(name));
        return this;
    }

    // ---------------------------------------------------------------- pull mode

    private void startPullers() {
        Executor executor = ownedExecutor != null ? ownedExecutor : this.executor;
        synchronized (pullers) {
            pullersRunning = options.concurrency();
        }
        for (int i = 0; i < options.concurrency(); i++) {
            try {
                executor.execute(this::pullLoop);
            } catch (RejectedExecutionException e) {
                pullerDone();
            }
        }
    }

    /**
     * One handler thread of a source that fetches on the handler threads: fetch a few, handle them,
     * settle each (on this thread), again; each thread holds at most its share of {@code maxInFlight}.
     * The budget is counted per batch, and the batch is this thread's own (see {@link Puller}): a record
     * costs no shared bookkeeping on its way. A record that arrived before it is due, or waits for an
     * in-place retry, is put aside ({@link #putAside}) and run by whichever handler thread is free once
     * it is due; no thread waits for it.
     */
    private void pullLoop() {
        int batch = Math.max(1, Math.min(tuning.fetchBatch(), maxInFlight / options.concurrency()));
        Backoff backoff = new Backoff(tuning.minBackoff(), tuning.maxBackoff());
        Puller me = new Puller();
        pullerList.add(me);
        try {
            while (running) {
                runDueAside();
                int limit = reserve(batch);
                if (limit == 0) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                    continue;
                }
                List<Fetched<R>> got;
                try {
                    got = source.exchange(List.of(), limit, pullWait());
                } catch (Exception e) {
                    inFlight.addAndGet(-limit);
                    if (e instanceof InterruptedException) {
                        return;
                    }
                    long wait = backoff.next();
                    warnings.warn(name + ": " + describe(e) + "; retrying every " + tuning.minBackoff().toMillis()
                            + " ms up to " + tuning.maxBackoff().toMillis() + " ms");
                    notify(l -> l.fetchFailed(name, e, Duration.ofMillis(wait)));
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(wait));
                    continue;
                }
                int n = got.size();
                if (n > limit) {
                    log.warn("{}: the source returned {} records when asked for {}", name, n, limit);
                }
                if (n != limit) {
                    inFlight.addAndGet(n - limit);
                }
                if (n > 0) {
                    @SuppressWarnings("unchecked")
                    Held[] mine = (Held[]) new ConsumerEngine.Held[n];
                    long seq = fetchSeq.getAndAdd(n);
                    for (int i = 0; i < n; i++) {
                        mine[i] = new Held(got.get(i), seq++);
                    }
                    me.batch = mine;   // visible to lease extension, close and the source context from here
                    int setAside = 0;
                    for (Held h : mine) {
                        long notBefore = h.fetched.notBefore();
                        long until = notBefore > 0 && running && notBefore > clock.millis() ? notBefore : h.run();
                        if (until > 0) {
                            putAside(h, until);
                            setAside++;
                        }
                    }
                    // the rest of the batch is settled, dropped, or (closing) left for close to give back;
                    // what was put aside leaves the budget when it is settled (forget)
                    inFlight.addAndGet(setAside - n);
                }
                if (backoff.failing()) {
                    backoff.reset();
                    Duration downtime = warnings.recovered(name + ": broker reachable again");
                    notify(l -> l.recovered(name, downtime));
                }
            }
        } finally {
            pullerDone();
        }
    }

    /**
     * Puts {@code h} aside until {@code until} (epoch ms), still counted in flight and still held: the
     * next handler thread free after that time runs it. A new earliest due time wakes the threads
     * waiting in the source, so that they wait no longer than until then.
     */
    private void putAside(Held h, long until) {
        h.dueAt = until;
        h.aside = true;
        held.add(h);
        int st = h.state();
        if (st == GONE || st == DONE) {
            forget(h);   // taken back (discarded, lease lost) before it was counted aside: leave the budget now
        }
        boolean earliest;
        synchronized (due) {
            due.add(h);
            earliest = due.peek() == h;
            nextDue = due.peek().dueAt;
        }
        if (earliest) {
            source.wakeUp();
        }
    }

    /** Runs the records put aside that are due now (on this handler thread). */
    private void runDueAside() {
        if (nextDue == Long.MAX_VALUE) {
            return;
        }
        while (running) {
            Held h;
            synchronized (due) {
                h = due.peek();
                if (h == null || h.dueAt > clock.millis()) {
                    return;
                }
                due.poll();
                nextDue = due.isEmpty() ? Long.MAX_VALUE : due.peek().dueAt;
            }
            long until = h.run();
            if (until > 0) {
                putAside(h, until);
            }
        }
    }

    /** How long a handler thread may wait in the source: not past the next record put aside. */
    private Duration pullWait() {
        long next = nextDue;
        if (next == Long.MAX_VALUE) {
            return tuning.maxWait();
        }
        long millis = Math.max(1, next - clock.millis());
        return millis >= tuning.maxWait().toMillis() ? tuning.maxWait() : Duration.ofMillis(millis);
    }

    private void pullerDone() {
        synchronized (pullers) {
            pullersRunning--;
            pullers.notifyAll();
        }
    }

    @Override
    public SubscriptionOptions options() {
        return options;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** The name of this engine's threads and log lines. */
    public String name() {
        return name;
    }

    /** Records fetched and not yet settled (waiting, running, or held for an in-place retry). */
    public int inFlight() {
        return pullMode ? heldNow().size() : held.size();
    }

    /** The records fetched and not settled (waiting, running, put aside), a snapshot. */
    private List<Held> heldNow() {
        if (!pullMode) {
            return new ArrayList<>(held);
        }
        Set<Held> out = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        out.addAll(held);
        for (Puller p : pullerList) {
            Held[] batch = p.batch;
            if (batch != null) {
                for (Held h : batch) {
                    int st = h.state();
                    if (st != DONE && st != GONE) {
                        out.add(h);
                    }
                }
            }
        }
        return new ArrayList<>(out);
    }

    /** True when a record is fetched and not settled. */
    private boolean anyHeld() {
        if (!held.isEmpty()) {
            return true;
        }
        if (pullMode) {
            for (Puller p : pullerList) {
                Held[] batch = p.batch;
                if (batch != null) {
                    for (Held h : batch) {
                        int st = h.state();
                        if (st != DONE && st != GONE) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- handling

    /**
     * A handler thread of pull mode. Its last batch stays visible after it handled it (records in a
     * final state are skipped by readers), and after the thread stopped, for close to give back what
     * never started.
     */
    private final class Puller {
        /** Written only by the puller's thread; replaced, never changed in place. */
        volatile Held[] batch = null;
    }

    /** A fetched record on its way through the engine. */
    private final class Held implements Lanes.LaneTask {
        final Fetched<R> fetched;
        /** Fetch order, so that what is given back goes back in the order it came. */
        final long seq;
        /** NEW, STARTED, ...; changed through STATE (an AtomicInteger would be one more object per record). */
        volatile int state;
        volatile long leaseUntil;
        volatile Thread thread;
        int attempt;
        /** Pull mode: put aside until {@link #dueAt} (epoch ms), and counted in {@link #held} until forgotten. */
        volatile boolean aside;
        long dueAt;

        Held(Fetched<R> fetched, long seq) {
            this.fetched = fetched;
            this.seq = seq;
            this.leaseUntil = fetched.leaseUntil();
            this.attempt = fetched.attempt();
        }

        int state() {
            return state;
        }

        boolean cas(int from, int to) {
            return STATE.compareAndSet(this, from, to);
        }

        void setState(int to) {
            state = to;
        }

        @Override
        public Object lane() {
            return fetched.lane();
        }

        @Override
        public long notBefore() {
            return state() == NEW ? fetched.notBefore() : 0;
        }

        /** The source's {@link DeliverySource#mayStart} answer; a source that throws skips the record. */
        private boolean sourceLetsStart() {
            try {
                return source.mayStart(fetched);
            } catch (RuntimeException e) {
                warnings.warn(name + ": could not decide whether to start message " + fetched.message().id() + " ("
                        + e + "); leaving it for redelivery");
                return false;
            }
        }

        @Override
        public long run() {
            if (state() == NEW) {
                if (!running || !cas(NEW, STARTED)) {
                    return 0;   // closing (given back at close) or discarded
                }
                if (leaseUntil > 0 && clock.millis() >= leaseUntil) {
                    // its lease ran out before a thread reached it (extensions failed): another consumer may
                    // hold it now; leave it
                    log.debug("{}: lease of message {} expired before it was handled; leaving it for redelivery",
                            name, fetched.message().id());
                    setState(GONE);
                    forget(this);
                    return 0;
                }
                if (!sourceLetsStart()) {
                    setState(GONE);
                    forget(this);
                    return 0;
                }
            } else if (state() == RETRY_WAIT) {
                if (!running) {
                    // an in-place retry waiting while the subscription closed: give it back unsettled
                    if (cas(RETRY_WAIT, GONE)) {
                        givenBack.add(fetched);
                        forget(this);
                    }
                    return 0;
                }
                if (!cas(RETRY_WAIT, STARTED)) {
                    return 0;   // taken back by the source meanwhile (a Kafka partition revoked)
                }
            } else {
                return 0;
            }
            thread = Thread.currentThread();
            Outcome outcome;
            try {
                BasicDelivery delivery = new BasicDelivery(fetched.message(), options.topic(), options.group(), attempt);
                outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
            } finally {
                thread = null;
            }
            if (abandoning) {
                Thread.interrupted();   // interrupted at the shutdown timeout: left unsettled
                return 0;
            }
            Settled<R> s = new Settled<>(fetched, outcome);
            if (outcome instanceof Outcome.Failed && running) {
                Duration again = source.inPlaceRetry(s);
                if (again != null) {
                    attempt++;
                    setState(RETRY_WAIT);
                    notifyHandled();   // no longer running: a revocation need not wait for it
                    return Math.max(1, clock.millis() + again.toMillis());
                }
            }
            if (settleOnWorker) {
                try {
                    source.settle(s);
                } catch (Exception e) {
                    warnings.warn(name + ": could not settle message " + fetched.message().id() + " (" + e
                            + "); the broker will deliver it again");
                }
                setState(DONE);   // after the settlement: awaitHandled covers it until then
                forget(this);
                wakeFetcherForRoom();
            } else {
                setState(DONE);
                forget(this);
                settled.add(s);
                int n = settledSinceDrain.incrementAndGet();
                if (n == 1 || n >= fetchThreshold || lanes.noneReady() || !running) {
                    wakeFetcher();
                }
            }
            return 0;
        }
    }

    /** {@code h} is no longer in flight here (settled, dropped, discarded). */
    private void forget(Held h) {
        // pull mode: a batch record leaves the budget with its batch, one put aside on its own
        if ((!pullMode || h.aside) && held.remove(h)) {
            inFlight.decrementAndGet();
        }
        notifyHandled();
    }

    /** Wakes {@link SourceContext#awaitHandled} callers, if there are any. */
    private void notifyHandled() {
        if (handledWaiters.get() > 0) {
            synchronized (handledMonitor) {
                handledMonitor.notifyAll();
            }
        }
    }

    private void wakeFetcher() {
        signals[0].signal();
        if (waitingInExchange) {
            source.wakeUp();
        }
    }

    private void wakeFetcherForRoom() {
        // only worth a signal when the fetcher waits for room in the budget and a fetch is now worth it
        // (never in pull mode: the handler threads fetch, the fetch thread only extends leases)
        if (!pullMode && fetcherIdle && inFlight.get() <= maxInFlight - fetchThreshold) {
            fetcherIdle = false;
            signals[0].signal();
        }
    }

    // ---------------------------------------------------------------- fetching

    /**
     * The loop of fetch thread {@code index}. Thread 0 is the main fetcher: it also extends leases and
     * does the final flush; the others help only while there is a backlog.
     */
    private void fetchLoop(int index) {
        boolean helper = index > 0;
        Signal signal = signals[index];
        boolean helping = false;
        List<Settled<R>> pending = new ArrayList<>();
        long firstPendingAt = 0;
        Backoff backoff = new Backoff(tuning.minBackoff(), tuning.maxBackoff());
        long lingerNanos = tuning.settleLinger().toNanos();
        long waitNanos = tuning.maxWait().toNanos();
        boolean keepsAlive = !helper && keepAliveNanos > 0;
        long lastExchangeAt = System.nanoTime();
        try {
            while (true) {
                boolean closing = !running;
                if (closing && handlersDone) {
                    if (helper) {
                        settled.addAll(pending);   // the main fetcher writes them, after every helper stopped
                        return;
                    }
                    for (int i = 1; i < fetchers.length; i++) {
                        fetchers[i].join();
                    }
                    finalFlush(pending);
                    return;
                }
                if (!helper && leases) {
                    extendLeasesIfDue();
                }
                if (helper && !helping && pending.isEmpty() && !closing) {
                    signal.await(waitNanos);
                    helping = backlogged;
                    continue;
                }
                if (!settleOnWorker) {
                    settledSinceDrain.set(0);
                    Settled<R> s;
                    while ((s = settled.poll()) != null) {
                        if (pending.isEmpty()) {
                            firstPendingAt = System.nanoTime();
                        }
                        pending.add(s);
                    }
                }
                int room = closing || pullMode ? 0 : maxInFlight - inFlight.get();
                int want = Math.min(tuning.fetchBatch(), room);
                boolean fetchWorth = want > 0 && (helper ? helping && want >= fetchThreshold
                        : want >= fetchThreshold || lanes.noneReady());
                boolean flushDue = !pending.isEmpty() && (pending.size() >= tuning.settleBatch() || fetchWorth || closing
                        || System.nanoTime() - firstPendingAt >= lingerNanos);
                long sinceExchange = System.nanoTime() - lastExchangeAt;
                boolean keepAliveDue = keepsAlive && sinceExchange >= keepAliveNanos;
                if (!fetchWorth && !flushDue && !keepAliveDue) {
                    long wait = pending.isEmpty() ? waitNanos : lingerNanos - (System.nanoTime() - firstPendingAt);
                    if (!helper && leases) {
                        wait = Math.min(wait, untilLeaseExtension());
                    }
                    if (keepsAlive) {
                        wait = Math.min(wait, keepAliveNanos - sinceExchange);
                    }
                    if (!helper && !pullMode) {
                        fetcherIdle = true;
                        if (settleOnWorker && maxInFlight - inFlight.get() >= fetchThreshold) {
                            fetcherIdle = false;   // room freed between the check above and now
                            continue;
                        }
                    }
                    signal.await(Math.max(1, wait));
                    fetcherIdle = false;
                    continue;
                }
                int limit = fetchWorth ? reserve(want) : 0;
                if (limit == 0 && pending.isEmpty() && !keepAliveDue) {
                    continue;   // another fetcher took the room meanwhile
                }
                List<Fetched<R>> got;
                try {
                    waitingInExchange = !helper && limit > 0 && pending.isEmpty();
                    Duration maxWait = Duration.ZERO;
                    if (limit > 0 && pending.isEmpty()) {
                        maxWait = tuning.maxWait();
                        if (!helper && leases && anyHeld()) {
                            // back in time for the next lease extension, whatever the source's wait
                            maxWait = Duration.ofNanos(Math.min(maxWait.toNanos(), untilLeaseExtension()));
                        }
                    }
                    got = source.exchange(pending, limit, maxWait);
                } catch (Exception e) {
                    inFlight.addAndGet(-limit);
                    long wait = backoff.next();
                    warnings.warn(name + ": " + describe(e) + "; retrying every " + tuning.minBackoff().toMillis()
                            + " ms up to " + tuning.maxBackoff().toMillis() + " ms");
                    notify(l -> l.fetchFailed(name, e, Duration.ofMillis(wait)));
                    (helper ? signal : closeSignal).awaitMillis(wait);
                    continue;
                } catch (Error e) {
                    inFlight.addAndGet(-limit);
                    throw e;
                } finally {
                    waitingInExchange = false;
                    lastExchangeAt = System.nanoTime();
                }
                pending = new ArrayList<>();
                if (got.size() > limit) {
                    inFlight.addAndGet(got.size() - limit);
                    log.warn("{}: the source returned {} records when asked for {}", name, got.size(), limit);
                } else {
                    inFlight.addAndGet(got.size() - limit);
                }
                dispatch(got);
                if (limit > 0) {
                    boolean full = got.size() == limit;
                    backlogged = full;
                    if (full) {
                        wakeHelpers();
                    }
                    helping = !got.isEmpty();
                }
                if (backoff.failing()) {
                    backoff.reset();
                    Duration downtime = warnings.recovered(name + ": broker reachable again");
                    notify(l -> l.recovered(name, downtime));
                }
            }
        } catch (InterruptedException e) {
            log.debug("{}: fetch thread interrupted", name);
        } catch (RuntimeException | Error e) {
            log.error("{}: fetch thread failed; the subscription stops fetching", name, e);
            throw e;
        }
    }

    private void dispatch(List<Fetched<R>> got) {
        if (got.isEmpty()) {
            return;
        }
        List<Held> tasks = new ArrayList<>(got.size());
        long seq = fetchSeq.getAndAdd(got.size());
        for (Fetched<R> f : got) {
            Held h = new Held(f, seq++);
            held.add(h);
            tasks.add(h);
        }
        lanes.submitAll(tasks);
    }

    /** Reserves room for up to {@code want} more records within {@code maxInFlight}, atomically. */
    private int reserve(int want) {
        while (true) {
            int current = inFlight.get();
            int room = Math.min(want, maxInFlight - current);
            if (room <= 0) {
                return 0;
            }
            if (inFlight.compareAndSet(current, current + room)) {
                return room;
            }
        }
    }

    private void wakeHelpers() {
        for (int i = 1; i < signals.length; i++) {
            signals[i].signal();
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return m == null ? e.toString() : m;
    }

    // ---------------------------------------------------------------- leases

    private long untilLeaseExtension() {
        if (!anyHeld()) {
            return Long.MAX_VALUE;
        }
        return TimeUnit.MILLISECONDS.toNanos(Math.max(1, nextLeaseExtension - clock.millis()));
    }

    /**
     * Every third of the lease timeout, extends the leases of held records (waiting or running) that
     * used a third of theirs or more.
     */
    private void extendLeasesIfDue() {
        long now = clock.millis();
        if (now < nextLeaseExtension || !anyHeld()) {
            return;
        }
        nextLeaseExtension = now + Math.max(1, leaseMillis / 3);
        List<Held> expiring = new ArrayList<>();
        for (Held h : heldNow()) {
            int st = h.state();
            if ((st == NEW || st == STARTED || st == RETRY_WAIT) && h.leaseUntil > 0 && h.leaseUntil - now <= leaseMillis * 2 / 3) {
                expiring.add(h);
            }
        }
        if (expiring.isEmpty()) {
            return;
        }
        long until = now + leaseMillis;
        List<Fetched<R>> records = new ArrayList<>(expiring.size());
        for (Held h : expiring) {
            records.add(h.fetched);
        }
        try {
            boolean[] extended = source.extendLeases(records, until);
            int lost = 0;
            for (int i = 0; i < expiring.size(); i++) {
                Held h = expiring.get(i);
                if (i < extended.length && extended[i]) {
                    h.leaseUntil = until;
                } else {
                    lost++;
                    if (h.cas(NEW, GONE)) {
                        forget(h);
                    }
                }
            }
            if (lost > 0) {
                int n = lost;
                log.warn("{}: {} message(s) were claimed by another consumer after their lease expired; their "
                        + "settlement here will change nothing", name, n);
                notify(l -> l.leasesLost(name, n));
            }
        } catch (Exception e) {
            warnings.warn(name + ": could not extend the leases of " + records.size() + " message(s): " + describe(e)
                    + "; retrying");
        }
    }

    // ---------------------------------------------------------------- closing

    /** Writes what is settled, retrying within a grace period. */
    private void finalFlush(List<Settled<R>> pending) throws InterruptedException {
        List<Settled<R>> all = new ArrayList<>(pending);
        Settled<R> s;
        while ((s = settled.poll()) != null) {
            all.add(s);
        }
        if (all.isEmpty()) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FINAL_FLUSH_GRACE_MILLIS);
        Backoff backoff = new Backoff(tuning.minBackoff(), tuning.maxBackoff());
        while (true) {
            try {
                source.exchange(all, 0, Duration.ZERO);
                return;
            } catch (Exception e) {
                long wait = backoff.next();
                if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait) > deadline) {
                    log.warn("{}: could not write {} settlements while closing ({}); those messages will be "
                            + "delivered again", name, all.size(), describe(e));
                    return;
                }
                TimeUnit.MILLISECONDS.sleep(wait);
            }
        }
    }

    @Override
    public void close(Duration timeout) {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
            if (!started) {
                running = false;
                shutdownExecutor();
                source.close();
                return;
            }
        }
        running = false;
        lanes.stop();
        closeSignal.signal();
        for (Signal s : signals) {
            s.signal();
        }
        source.wakeUp();
        int abandoned = 0;
        try {
            if (!awaitHandlers(timeout.toNanos())) {
                List<Held> stillRunning = new ArrayList<>();
                for (Held h : heldNow()) {
                    if (h.state() == STARTED && h.thread != null) {
                        stillRunning.add(h);
                    }
                }
                abandoned = stillRunning.size();
                log.warn("{}: {} handler(s) still running after {}; interrupting them, their messages will be redelivered",
                        name, abandoned, timeout);
                abandoning = true;
                for (Held h : stillRunning) {
                    Thread t = h.thread;
                    if (t != null) {
                        t.interrupt();
                    }
                }
                if (ownedExecutor != null) {
                    ownedExecutor.shutdownNow();
                }
                awaitHandlers(TimeUnit.MILLISECONDS.toNanos(INTERRUPT_GRACE_MILLIS));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        handlersDone = true;
        for (Signal s : signals) {
            s.signal();
        }
        source.wakeUp();
        joinFetchers();
        List<Fetched<R>> giveBack = new ArrayList<>(givenBack);
        List<Held> unsettled = new ArrayList<>();
        for (Held h : heldNow()) {
            if (h.cas(NEW, GONE) || h.cas(RETRY_WAIT, GONE) || h.state() == STARTED) {
                unsettled.add(h);   // never started, or abandoned at the timeout
            }
        }
        unsettled.sort(Comparator.comparingLong(h -> h.seq));
        for (Held h : unsettled) {
            giveBack.add(h.fetched);
        }
        held.clear();
        if (!giveBack.isEmpty()) {
            try {
                source.release(giveBack);
            } catch (Exception e) {
                log.warn("{}: could not give back {} unhandled message(s) ({}); they are delivered again when their "
                        + "lease expires", name, giveBack.size(), describe(e));
            }
        }
        shutdownExecutor();
        try {
            source.close();
        } catch (RuntimeException e) {
            log.debug("{}: closing the source failed", name, e);
        }
        int released = giveBack.size() - abandoned;
        int gaveUp = abandoned;
        notify(l -> l.closed(name, Math.max(0, released), gaveUp));
        if (onClosed != null) {
            onClosed.accept(this);
        }
    }

    /** Waits up to {@code nanos} until no handler runs (started records are done or interrupted). */
    private boolean awaitHandlers(long nanos) throws InterruptedException {
        if (!pullMode) {
            return lanes.awaitNoneRunning(nanos);
        }
        long deadline = System.nanoTime() + nanos;
        synchronized (pullers) {
            while (pullersRunning > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(pullers, left);
            }
            return true;
        }
    }

    private void joinFetchers() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FINAL_FLUSH_GRACE_MILLIS
                + tuning.maxBackoff().toMillis() + tuning.maxWait().toMillis() + 5_000);
        try {
            for (Thread t : fetchers) {
                if (t.isAlive()) {
                    t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                }
                if (t.isAlive()) {
                    log.warn("{}: fetch thread {} did not stop; interrupting it", name, t.getName());
                    t.interrupt();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void shutdownExecutor() {
        if (ownedExecutor != null) {
            ownedExecutor.shutdown();
        }
    }

    private void notify(Consumer<EngineListener> event) {
        try {
            event.accept(listener);
        } catch (RuntimeException e) {
            log.warn("{}: engine listener failed", name, e);
        }
    }

    // ---------------------------------------------------------------- source context

    private final class Context implements SourceContext<R> {
        @Override
        public List<Fetched<R>> discardUnstarted(Predicate<Fetched<R>> which) {
            List<Fetched<R>> out = new ArrayList<>();
            for (Held h : heldNow()) {
                if (which.test(h.fetched) && (h.cas(NEW, GONE) || h.cas(RETRY_WAIT, GONE))) {
                    forget(h);
                    out.add(h.fetched);
                }
            }
            return out;
        }

        @Override
        public boolean awaitHandled(Predicate<Fetched<R>> which, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            handledWaiters.incrementAndGet();
            try {
                return awaitHandledLocked(which, deadline);
            } finally {
                handledWaiters.decrementAndGet();
            }
        }

        private boolean awaitHandledLocked(Predicate<Fetched<R>> which, long deadline) throws InterruptedException {
            synchronized (handledMonitor) {
                while (true) {
                    boolean busy = false;
                    for (Held h : heldNow()) {
                        if (h.state() == STARTED && which.test(h.fetched)) {
                            busy = true;
                            break;
                        }
                    }
                    if (!busy) {
                        return true;
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    TimeUnit.NANOSECONDS.timedWait(handledMonitor, Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
                }
            }
        }

        @Override
        public boolean running() {
            return running;
        }

        @Override
        public int inFlight() {
            return ConsumerEngine.this.inFlight();
        }
    }

    // ---------------------------------------------------------------- builder

    /**
     * Builds a {@link ConsumerEngine}. Not thread-safe.
     *
     * @param <R> the source's record type
     */
    public static final class Builder<R> {
        private final SubscriptionOptions options;
        private final Handler handler;
        private final DeliverySource<R> source;
        private String name;
        private Executor executor;
        private Clock clock = Clock.systemUTC();
        private EngineTuning tuning = EngineTuning.defaults();
        private EngineListener listener = EngineListener.NONE;
        private Consumer<ConsumerEngine<R>> onClosed;

        private Builder(SubscriptionOptions options, Handler handler, DeliverySource<R> source) {
            this.options = Objects.requireNonNull(options, "options");
            this.handler = Objects.requireNonNull(handler, "handler");
            this.source = Objects.requireNonNull(source, "source");
        }

        /** The prefix of thread names and log lines; default {@code courier-<topic>-<group>}. */
        public Builder<R> name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * Runs handlers on {@code executor} (not shut down by the engine), at most
         * {@code concurrency} at once. Default: {@link SubscriptionOptions#executor()}, else
         * {@code concurrency} threads of the engine's own, virtual where the runtime has them.
         */
        public Builder<R> executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** The clock for leases, due times and backoff; default the system clock. */
        public Builder<R> clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Batching and waiting; default {@link EngineTuning#defaults()}. */
        public Builder<R> tuning(EngineTuning tuning) {
            this.tuning = Objects.requireNonNull(tuning, "tuning");
            return this;
        }

        /** Hears lifecycle events; default none. */
        public Builder<R> listener(EngineListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Called once at the end of {@link ConsumerEngine#close(Duration)}. */
        public Builder<R> onClosed(Consumer<ConsumerEngine<R>> onClosed) {
            this.onClosed = Objects.requireNonNull(onClosed, "onClosed");
            return this;
        }

        /** Builds the engine; call {@link ConsumerEngine#start()} to run it. */
        public ConsumerEngine<R> build() {
            return new ConsumerEngine<>(this);
        }
    }
}
