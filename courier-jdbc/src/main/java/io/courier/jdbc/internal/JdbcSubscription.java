package io.courier.jdbc.internal;

import io.courier.Handler;
import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.BasicDelivery;
import io.courier.spi.ConsumerThreads;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One subscription: a poller thread that does the subscription's SQL, and {@code concurrency}
 * workers that run the handler.
 *
 * <p>The poller claims batches of visible deliveries into a local buffer (never more than
 * {@code maxInFlight} claimed and not yet handled), and writes the workers' settlements (ack, retry,
 * failure) in batches, in the same transaction as the next claim. When nothing more is visible it
 * waits for a wake-up (a publish in this JVM, a PostgreSQL notification) or until the next delayed
 * message, retry or expired lease is due, at most the poll interval: a claim made when the last one
 * was not full also reads the group's next {@code visible_at} within the poll interval
 * ({@link Claimed}), so a delayed message is claimed when due, not a poll interval later. Database errors never stop it: it
 * keeps the unsettled outcomes, logs, backs off (100 ms doubling to 5 s) and tries again. The main
 * poller also extends the leases of what the subscription holds, every third of the lease timeout,
 * so only a consumer that stopped (died, or lost the database) gives its deliveries up.
 *
 * <p>Where the database runs claims in parallel ({@link SqlDialect#claimLanes()}, PostgreSQL) and
 * {@code maxInFlight} holds several claim batches, helper pollers join when there is a backlog
 * (a claim came back full), each settling and claiming on its own connection, so that the
 * subscription's throughput is not one request's round trip and commit at a time. They share the
 * {@code maxInFlight} budget, reserving it before they claim, and go back to sleep when a claim of
 * their own finds nothing.
 */
public final class JdbcSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(JdbcSubscription.class);
    private static final long MIN_BACKOFF_MS = 100;
    private static final long MAX_BACKOFF_MS = 5_000;
    private static final long ACK_LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    private static final long FINAL_FLUSH_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);

    /**
     * Tuning shared by the subscriptions of one transport.
     *
     * @param pollInterval   longest wait between two looks at the table when idle
     * @param claimBatchSize deliveries claimed per transaction, at most
     * @param ackBatchSize   settlements gathered before they are written without a claim
     */
    public record Tuning(Duration pollInterval, int claimBatchSize, int ackBatchSize) {
    }

    private final SubscriptionOptions options;
    private final Handler handler;
    private final Database db;
    private final MessageStore store;
    private final long groupId;
    private final long owner = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
    private final Clock clock;
    private final Tuning tuning;
    private final Wakeups wakeups;
    private final Consumer<JdbcSubscription> onClosed;
    private final String name;

    private final LinkedBlockingQueue<ClaimedRow> buffer = new LinkedBlockingQueue<>();
    /** Every delivery claimed and not yet settled (buffered or running), by message row, with its lease. */
    private final ConcurrentHashMap<Long, Held> held = new ConcurrentHashMap<>();
    private final long leaseMillis;
    /** When the main poller next extends the leases of held deliveries (epoch ms). */
    private long nextLeaseExtension;
    private final ConcurrentLinkedQueue<Settlement> settled = new ConcurrentLinkedQueue<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger settledSinceDrain = new AtomicInteger();
    private final int claimThreshold;
    private final boolean lookBeforeClaiming;
    private final Signal pollerSignal = new Signal();
    /** Publish wake-ups (this JVM's publishes, PostgreSQL notifications) so far; pollers claim after one. */
    private final AtomicLong newMessages = new AtomicLong();
    private final Runnable onNewMessages = () -> {
        newMessages.incrementAndGet();
        pollerSignal.signal();
    };
    private final Signal closeSignal = new Signal();
    /** Wake-ups of the helper pollers (index 0 unused: the main poller has {@link #pollerSignal}). */
    private final Signal[] helperSignals;
    /** True while the last claim came back full: helper pollers start only then. */
    private volatile boolean backlogged;
    private final ExecutorService workers;
    private final Thread[] pollers;
    private volatile boolean running = true;
    private volatile boolean workersDone;
    private final Object closeLock = new Object();
    private boolean closed;

    /** A subscription of group {@code groupId}; call {@link #start()} to run it. */
    public JdbcSubscription(SubscriptionOptions options, Handler handler, Database db, MessageStore store, long groupId,
                            Clock clock, Tuning tuning, Wakeups wakeups, Consumer<JdbcSubscription> onClosed) {
        this.options = options;
        this.handler = handler;
        this.db = db;
        this.store = store;
        this.groupId = groupId;
        this.clock = clock;
        this.tuning = tuning;
        this.wakeups = wakeups;
        this.onClosed = onClosed;
        this.leaseMillis = options.leaseTimeout().toMillis();
        this.claimThreshold = Math.max(1, Math.min(tuning.claimBatchSize(), options.maxInFlight()) / 2);
        this.lookBeforeClaiming = db.dialect().looksBeforeClaiming();
        this.name = "courier-" + db.dialect().name() + "-" + options.topic() + "-" + options.group();
        this.workers = Executors.newFixedThreadPool(options.concurrency(), ConsumerThreads.factory(name));
        int lanes = Math.max(1, Math.min(db.dialect().claimLanes(), options.maxInFlight() / tuning.claimBatchSize()));
        this.helperSignals = new Signal[lanes];
        this.pollers = new Thread[lanes];
        for (int lane = 0; lane < lanes; lane++) {
            int l = lane;
            helperSignals[lane] = lane == 0 ? null : new Signal();
            pollers[lane] = new Thread(() -> pollLoop(l), name + "-poller" + (lane == 0 ? "" : "-" + lane));
            pollers[lane].setDaemon(true);
        }
    }

    /** Starts the poller and the workers. */
    public void start() {
        wakeups.register(options.topic(), onNewMessages);
        for (int i = 0; i < options.concurrency(); i++) {
            workers.execute(this::work);
        }
        for (Thread poller : pollers) {
            poller.start();
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

    // ---------------------------------------------------------------- workers

    private void work() {
        while (running) {
            ClaimedRow row;
            try {
                row = buffer.poll(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (row == null) {
                continue;
            }
            if (!running) {
                settle(Settlement.release(row, clock.millis()));
                return;
            }
            Held h = held.get(row.messageRow());
            if (h == null || clock.millis() >= h.leaseUntil) {
                // Its lease ran out before a worker reached it (extensions failed: the database was
                // unreachable): another consumer may hold it now. Leave it.
                log.debug("{}: lease of message {} expired before it was handled; leaving it for redelivery",
                        name, row.message().id());
                held.remove(row.messageRow());
                inFlight.decrementAndGet();
                pollerSignal.signal();
                continue;
            }
            BasicDelivery delivery = new BasicDelivery(row.message(), options.topic(), options.group(), row.attempts());
            Outcome outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
            settle(toSettlement(row, outcome));
        }
    }

    private void settle(Settlement s) {
        // Handled: no longer in flight, though its settlement is written later, with the next request.
        held.remove(s.row().messageRow());
        inFlight.decrementAndGet();
        settled.add(s);
        // Wake the poller once per drain (it then writes within the ack linger), and again when a claim
        // is worth a transaction or the workers are about to run dry; not for every settlement.
        int n = settledSinceDrain.incrementAndGet();
        if (n == 1 || n >= claimThreshold || buffer.isEmpty() || !running) {
            pollerSignal.signal();
        }
    }

    private Settlement toSettlement(ClaimedRow row, Outcome outcome) {
        long now = clock.millis();
        if (outcome instanceof Outcome.Retry r) {
            Message redelivered = r.apply(row.message());
            String headers = r.headers().isEmpty() ? null : HeadersJson.write(redelivered.headers());
            return Settlement.reschedule(row, now + r.delay().toMillis(), headers);
        }
        if (outcome instanceof Outcome.Failed f) {
            return Settlement.reschedule(row, now + f.redeliveryDelay().toMillis(), null);
        }
        return Settlement.ack(row);
    }

    // ---------------------------------------------------------------- poller

    /**
     * The loop of poller {@code lane}. Lane 0 is the main poller; the others (if any) help only while
     * there is a backlog, and leave idle waits and delayed messages to the main poller.
     */
    private void pollLoop(int lane) {
        boolean helper = lane > 0;
        Signal signal = helper ? helperSignals[lane] : pollerSignal;
        // A helper claims from a backlog until a claim of its own finds nothing, then sleeps until
        // some poller's claim comes back full again.
        boolean helping = false;
        // Whether a claim may find something this poller has not already looked past: true after a
        // full claim, a wait of its own that ended, a failure, and while settling a redelivery or a
        // keyed message (which may free the next message of its key); a publish wake-up since the
        // last claim or a poll interval without a claim counts too. Otherwise acknowledgements are
        // written alone instead of with a claim that would find nothing.
        boolean lookAgain = true;
        long wakeupsAtClaim = newMessages.get();
        long lastClaimNanos = System.nanoTime();
        // The main poller's next due time (epoch ms): when the next delivery it knows of becomes
        // visible (a delayed message, a retry, an expired lease), as its last claim read it. It claims
        // then, whatever the poll interval, so a delayed message is not late by a poll interval.
        long nextDue = Claimed.NONE;
        List<Settlement> pending = new ArrayList<>();
        long firstPendingAt = 0;
        boolean idle = false;
        long backoff = 0;
        long failingSince = 0;
        long pollNanos = tuning.pollInterval().toNanos();
        try {
            while (true) {
                boolean closing = !running;
                if (closing && workersDone) {
                    finalFlush(pending);
                    return;
                }
                if (!helper) {
                    extendLeasesIfDue();
                }
                if (helper && !helping && pending.isEmpty() && !closing) {
                    signal.await(pollNanos);
                    helping = backlogged;
                    lookAgain = true;
                    continue;
                }
                settledSinceDrain.set(0);
                Settlement s;
                while ((s = settled.poll()) != null) {
                    if (pending.isEmpty()) {
                        firstPendingAt = System.nanoTime();
                    }
                    pending.add(s);
                    if (s.kind() != Settlement.Kind.ACK || s.row().message().key().isPresent()) {
                        lookAgain = true;
                    }
                }
                int capacity = closing ? 0 : options.maxInFlight() - inFlight.get();
                int want = Math.min(tuning.claimBatchSize(), capacity);
                long sinceClaim = System.nanoTime() - lastClaimNanos;
                boolean worthLooking = lookAgain || newMessages.get() != wakeupsAtClaim || sinceClaim >= pollNanos
                        || !helper && clock.millis() >= nextDue;
                boolean claimWorth = want > 0 && worthLooking && (helper ? helping && want >= claimThreshold
                        : want >= claimThreshold || buffer.isEmpty());
                boolean flushDue = !pending.isEmpty() && (pending.size() >= tuning.ackBatchSize() || claimWorth || closing
                        || System.nanoTime() - firstPendingAt >= ACK_LINGER_NANOS);
                if (!claimWorth && !flushDue) {
                    long wait = pending.isEmpty() ? pollNanos : ACK_LINGER_NANOS - (System.nanoTime() - firstPendingAt);
                    if (!worthLooking) {
                        wait = Math.min(wait, Math.min(pollNanos - sinceClaim, untilDue(nextDue)));
                    }
                    signal.await(Math.max(helper ? wait : Math.min(wait, untilLeaseExtension()), 1));
                    continue;
                }
                try {
                    boolean claim = claimWorth;
                    long nextVisible = Claimed.NONE;
                    if (claim && idle && lookBeforeClaiming && !helper) {
                        // Look before taking the write lock: an idle consumer must not serialise SQLite writers.
                        OptionalLong next = db.read(c -> store.nextVisibleAt(c, groupId));
                        if (next.isEmpty() || next.getAsLong() > clock.millis()) {
                            claim = false;
                            nextVisible = next.orElse(Claimed.NONE);
                        }
                    }
                    if (!claim && pending.isEmpty()) {
                        idleWait(nextVisible, pollNanos);
                        lookAgain = true;
                        recovered(failingSince);
                        failingSince = 0;
                        backoff = 0;
                        continue;
                    }
                    int limit = claim ? reserve(want) : 0;
                    if (limit == 0 && pending.isEmpty()) {
                        continue;   // another poller took the room meanwhile
                    }
                    if (limit > 0) {
                        wakeupsAtClaim = newMessages.get();
                        lastClaimNanos = System.nanoTime();
                    }
                    // After a full claim the next is likely full too (a backlog): it reads no look-ahead,
                    // and if it comes back short the poller claims again at once, with one.
                    boolean lookAhead = idle && !helper;
                    List<ClaimedRow> claimed;
                    try {
                        Claimed result = store.settleAndClaim(db, groupId, owner, pending, limit, clock,
                                options.leaseTimeout(), lookAhead ? tuning.pollInterval() : Duration.ZERO);
                        claimed = result.rows();
                        if (limit > 0 && !helper) {
                            nextDue = lookAhead || claimed.size() == limit ? result.nextVisibleAt() : clock.millis();
                        }
                    } catch (SQLException | RuntimeException e) {
                        inFlight.addAndGet(-limit);
                        throw e;
                    }
                    inFlight.addAndGet(claimed.size() - limit);
                    pending = new ArrayList<>();
                    for (ClaimedRow row : claimed) {
                        held.put(row.messageRow(), new Held(row));
                    }
                    buffer.addAll(claimed);
                    if (limit > 0) {
                        idle = claimed.size() < limit;
                        backlogged = !idle;
                        if (backlogged) {
                            wakeHelpers();
                        }
                        helping = !claimed.isEmpty();
                        lookAgain = !idle;
                    }
                    recovered(failingSince);
                    failingSince = 0;
                    backoff = 0;
                } catch (SQLException | RuntimeException e) {
                    lookAgain = true;
                    backoff = backoff == 0 ? MIN_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, backoff * 2);
                    if (failingSince == 0) {
                        failingSince = System.nanoTime();
                        log.warn("{}: {}; retrying every {} ms up to {} ms", name,
                                SqlErrors.translate("consuming", db.target(), e).getMessage(),
                                MIN_BACKOFF_MS, MAX_BACKOFF_MS);
                    } else {
                        log.debug("{}: still failing: {}", name, e.toString());
                    }
                    (helper ? signal : closeSignal).awaitMillis(backoff);
                } catch (Error e) {
                    log.error("{}: unexpected error in the poller; continuing", name, e);
                    (helper ? signal : closeSignal).awaitMillis(MAX_BACKOFF_MS);
                }
            }
        } catch (InterruptedException e) {
            log.debug("{}: poller interrupted", name);
        }
    }

    /**
     * Reserves room for up to {@code want} more claimed deliveries within {@code maxInFlight},
     * atomically, so that pollers claiming at once never claim more than the budget together.
     *
     * @return how many may be claimed; 0 when there is no room
     */
    private int reserve(int want) {
        while (true) {
            int current = inFlight.get();
            int room = Math.min(want, options.maxInFlight() - current);
            if (room <= 0) {
                return 0;
            }
            if (inFlight.compareAndSet(current, current + room)) {
                return room;
            }
        }
    }

    private void wakeHelpers() {
        for (int i = 1; i < helperSignals.length; i++) {
            helperSignals[i].signal();
        }
    }

    private void recovered(long failingSince) {
        if (failingSince != 0) {
            log.info("{}: database reachable again after {} ms", name,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - failingSince));
        }
    }

    private void idleWait(long nextVisible, long pollNanos) throws InterruptedException {
        pollerSignal.await(Math.min(Math.min(pollNanos, untilLeaseExtension()), untilDue(nextVisible)));
    }

    /** Nanoseconds until {@code due} (epoch ms), at least 1; long for {@link Claimed#NONE}. */
    private long untilDue(long due) {
        return due == Claimed.NONE ? Long.MAX_VALUE : TimeUnit.MILLISECONDS.toNanos(Math.max(1, due - clock.millis()));
    }

    // ---------------------------------------------------------------- lease extension

    /** A claimed delivery and the current end of its lease, which the main poller moves forward. */
    private static final class Held {
        final ClaimedRow row;
        volatile long leaseUntil;

        Held(ClaimedRow row) {
            this.row = row;
            this.leaseUntil = row.leaseUntil();
        }
    }

    /** Nanoseconds until the next lease extension is due; long when nothing is held. */
    private long untilLeaseExtension() {
        if (held.isEmpty()) {
            return Long.MAX_VALUE;
        }
        return TimeUnit.MILLISECONDS.toNanos(Math.max(1, nextLeaseExtension - clock.millis()));
    }

    /**
     * Every third of the lease timeout, extends the leases of the deliveries this subscription holds
     * (running or waiting in the buffer) that have used a third of their lease or more, so a handler
     * slower than the lease is not redelivered to another consumer while it runs. Only a consumer
     * that stops extending (it died, or cannot reach the database) loses its deliveries, after at
     * most one lease timeout. Fenced like a settlement: a row someone else claimed meanwhile is not
     * taken back.
     */
    private void extendLeasesIfDue() {
        long now = clock.millis();
        if (held.isEmpty() || now < nextLeaseExtension) {
            return;
        }
        nextLeaseExtension = now + Math.max(1, leaseMillis / 3);
        List<Held> due = new ArrayList<>();
        for (Held h : held.values()) {
            if (h.leaseUntil - now <= leaseMillis * 2 / 3) {
                due.add(h);
            }
        }
        if (due.isEmpty()) {
            return;
        }
        long until = now + leaseMillis;
        List<ClaimedRow> rows = new ArrayList<>(due.size());
        for (Held h : due) {
            rows.add(h.row);
        }
        try {
            boolean[] extended = db.inTransaction(c -> store.extendLeases(c, groupId, owner, rows, until));
            int lost = 0;
            for (int i = 0; i < extended.length; i++) {
                if (extended[i]) {
                    due.get(i).leaseUntil = until;
                } else {
                    lost++;
                }
            }
            if (lost > 0) {
                log.warn("{}: {} message(s) were claimed by another consumer after their lease expired; their "
                        + "settlement here will change nothing", name, lost);
            }
        } catch (SQLException | RuntimeException e) {
            log.warn("{}: could not extend the leases of {} message(s): {}; retrying", name, rows.size(),
                    SqlErrors.translate("extending leases", db.target(), e).getMessage());
        }
    }

    /** Writes what is settled and releases what was claimed but never started. */
    private void finalFlush(List<Settlement> pending) throws InterruptedException {
        List<Settlement> all = new ArrayList<>(pending);
        Settlement s;
        while ((s = settled.poll()) != null) {
            all.add(s);
        }
        List<ClaimedRow> unstarted = new ArrayList<>();
        buffer.drainTo(unstarted);
        inFlight.addAndGet(-unstarted.size());
        held.clear();
        long now = clock.millis();
        for (ClaimedRow row : unstarted) {
            all.add(Settlement.release(row, now));
        }
        if (all.isEmpty()) {
            return;
        }
        long deadline = System.nanoTime() + FINAL_FLUSH_GRACE_NANOS;
        long backoff = MIN_BACKOFF_MS;
        while (true) {
            try {
                db.inTransaction(c -> {
                    store.settle(c, groupId, owner, all);
                    return null;
                });
                return;
            } catch (SQLException | RuntimeException e) {
                if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff) > deadline) {
                    log.warn("{}: could not write {} settlements while closing ({}); those messages will be "
                            + "redelivered when their lease expires", name, all.size(), e.toString());
                    return;
                }
                TimeUnit.MILLISECONDS.sleep(backoff);
                backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
            }
        }
    }

    // ---------------------------------------------------------------- close

    @Override
    public void close(Duration timeout) {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        running = false;
        pollerSignal.signal();
        closeSignal.signal();
        wakeHelpers();
        workers.shutdown();
        try {
            if (!workers.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                log.warn("{}: handlers still running after {}; interrupting them, their messages will be redelivered",
                        name, timeout);
                workers.shutdownNow();
                workers.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            workers.shutdownNow();
            Thread.currentThread().interrupt();
        }
        workersDone = true;
        pollerSignal.signal();
        wakeHelpers();
        long joinDeadline = System.nanoTime() + FINAL_FLUSH_GRACE_NANOS + TimeUnit.MILLISECONDS.toNanos(MAX_BACKOFF_MS + 5_000);
        try {
            for (Thread poller : pollers) {
                poller.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(joinDeadline - System.nanoTime())));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        wakeups.unregister(options.topic(), onNewMessages);
        onClosed.accept(this);
    }
}
