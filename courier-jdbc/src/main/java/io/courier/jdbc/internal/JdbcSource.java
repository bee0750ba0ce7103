package io.courier.jdbc.internal;

import io.courier.Message;
import io.courier.spi.Outcome;
import io.courier.spi.engine.DeliverySource;
import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Settled;
import io.courier.spi.engine.Signal;
import io.courier.spi.engine.SourceContext;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The SQL of one subscription, run by a {@link io.courier.spi.engine.ConsumerEngine}: each
 * {@link #exchange} writes the handlers' settlements (ack, retry, failure) in the same transaction as
 * the next claim ({@link MessageStore#settleAndClaim}), leased to this subscription's random owner
 * token, which fences every later update.
 *
 * <p>A claim goes along only when it may find something not already looked past: the last claim came
 * back full, a publish woke the subscription since ({@link Wakeups}: this JVM's publishes, PostgreSQL
 * notifications), the next due time that a claim read ({@link Claimed#nextVisibleAt()}: a delayed
 * message, a retry, an expired lease) has come, a poll interval passed, or the settlements free work (a
 * retry, a failure, the acknowledgement of a keyed message). Otherwise the settlements are written
 * alone, and with none to write the main fetch thread waits inside {@code exchange} for one of those,
 * at most the engine's wait (the poll interval), and while records are in flight at most a twelfth of
 * the lease, so that the engine extends their leases on time. An idle consumer on SQLite with nothing
 * to write looks with a read before it claims ({@link SqlDialect#looksBeforeClaiming()}), so it never
 * takes the write lock for nothing.
 *
 * <p>Where the database claims in parallel ({@link SqlDialect#claimLanes()}, PostgreSQL), the engine
 * runs helper fetch threads while there is a backlog. Each fetch thread keeps its own claim state
 * and each call uses its own connection, so {@code exchange} is thread-safe. The engine's main fetch
 * thread is the first to call {@code exchange} (helpers join only after a full fetch); only it waits
 * for wake-ups and due times and looks before claiming, helpers return at once when there is nothing
 * worth a claim and go back to sleep.
 */
public final class JdbcSource implements DeliverySource<ClaimedRow> {

    private final Database db;
    private final MessageStore store;
    private final long groupId;
    private final String topic;
    private final long owner = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
    private final Clock clock;
    private final Duration lease;
    private final Duration pollInterval;
    private final Wakeups wakeups;
    private final boolean lookBeforeClaiming;
    /** Publish wake-ups (this JVM's publishes, PostgreSQL notifications) so far; a claim follows one. */
    private final AtomicLong newMessages = new AtomicLong();
    private final List<Poller> pollers = new CopyOnWriteArrayList<>();
    private final AtomicBoolean mainTaken = new AtomicBoolean();
    private final ThreadLocal<Poller> poller = ThreadLocal.withInitial(this::newPoller);
    private final Runnable onNewMessages = () -> {
        newMessages.incrementAndGet();
        signalAll();
    };
    private volatile SourceContext<ClaimedRow> context;

    /**
     * A source of group {@code groupId} of {@code topic}, leasing for {@code lease} and waiting at most
     * {@code pollInterval} before it looks at the table again.
     */
    public JdbcSource(Database db, MessageStore store, long groupId, String topic, Clock clock, Duration lease,
                      Duration pollInterval, Wakeups wakeups) {
        this.db = db;
        this.store = store;
        this.groupId = groupId;
        this.topic = topic;
        this.clock = clock;
        this.lease = lease;
        this.pollInterval = pollInterval;
        this.wakeups = wakeups;
        this.lookBeforeClaiming = db.dialect().looksBeforeClaiming();
    }

    @Override
    public void start(SourceContext<ClaimedRow> context) {
        this.context = context;
        wakeups.register(topic, onNewMessages);
    }

    @Override
    public List<Fetched<ClaimedRow>> exchange(List<Settled<ClaimedRow>> settled, int max, Duration maxWait)
            throws InterruptedException {
        Poller p = poller.get();
        List<Settlement> settlements = new ArrayList<>(settled.size());
        long now = clock.millis();
        for (Settled<ClaimedRow> s : settled) {
            Settlement settlement = toSettlement(s.record(), s.outcome(), now);
            settlements.add(settlement);
            if (settlement.kind() != Settlement.Kind.ACK || s.record().message().key().isPresent()) {
                p.lookAgain = true;   // a redelivery, or the next message of a key, may be claimable now
            }
        }
        try {
            return p.exchange(settlements, max, maxWait);
        } catch (SQLException | RuntimeException e) {
            p.lookAgain = true;
            throw SqlErrors.translate("consuming", db.target(), e);
        }
    }

    private static Settlement toSettlement(ClaimedRow row, Outcome outcome, long now) {
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

    /** Settlements are written in batches with the next claim, never one by one. */
    @Override
    public boolean settlesOnWorker() {
        return false;
    }

    /** Clears the leases of deliveries claimed and never handled: visible now, the attempt not counted. */
    @Override
    public void release(List<Fetched<ClaimedRow>> unhandled) {
        long now = clock.millis();
        List<Settlement> releases = new ArrayList<>(unhandled.size());
        for (Fetched<ClaimedRow> f : unhandled) {
            releases.add(Settlement.release(f.record(), now));
        }
        try {
            db.inTransaction(c -> {
                store.settle(c, groupId, owner, releases);
                return null;
            });
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("releasing unhandled messages", db.target(), e);
        }
    }

    @Override
    public boolean extendsLeases() {
        return true;
    }

    /** Moves the leases forward in one fenced batch: a row someone else claimed meanwhile is not taken back. */
    @Override
    public boolean[] extendLeases(List<Fetched<ClaimedRow>> held, long until) {
        List<ClaimedRow> rows = new ArrayList<>(held.size());
        for (Fetched<ClaimedRow> f : held) {
            rows.add(f.record());
        }
        try {
            return db.inTransaction(c -> store.extendLeases(c, groupId, owner, rows, until));
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("extending leases", db.target(), e);
        }
    }

    @Override
    public void wakeUp() {
        signalAll();
    }

    @Override
    public void close() {
        wakeups.unregister(topic, onNewMessages);
    }

    private void signalAll() {
        for (Poller p : pollers) {
            p.signal.signal();
        }
    }

    private Poller newPoller() {
        Poller p = new Poller(mainTaken.compareAndSet(false, true));
        pollers.add(p);
        return p;
    }

    /** Nanoseconds until {@code due} (epoch ms), at least 1; long for {@link Claimed#NONE}. */
    private long untilDue(long due) {
        return due == Claimed.NONE ? Long.MAX_VALUE : TimeUnit.MILLISECONDS.toNanos(Math.max(1, due - clock.millis()));
    }

    /** The claim state of one fetch thread. */
    private final class Poller {
        final boolean main;
        final Signal signal = new Signal();
        /**
         * Whether a claim may find something this thread has not already looked past: true after a full
         * claim, a failure, and while settling a redelivery or a keyed message; a publish wake-up since
         * the last claim, a poll interval without one or (main thread) the next due time count too.
         */
        boolean lookAgain = true;
        long wakeupsAtClaim = newMessages.get();
        long lastClaimNanos = System.nanoTime();
        /** When the next delivery known to this thread becomes visible (epoch ms), as its last claim read it. */
        long nextDue = Claimed.NONE;
        /** True when the last claim came back short: the next claim reads the look-ahead. */
        boolean idle;

        Poller(boolean main) {
            this.main = main;
        }

        List<Fetched<ClaimedRow>> exchange(List<Settlement> settlements, int max, Duration maxWait)
                throws SQLException, InterruptedException {
            long waitLimit = maxWait.toNanos();
            if (context.inFlight() > 0) {
                // The engine extends the leases it holds between two exchanges, every third of the lease:
                // return often enough that an extension is never late by more than a twelfth.
                waitLimit = Math.min(waitLimit, lease.toNanos() / 12);
            }
            long deadline = System.nanoTime() + waitLimit;
            while (true) {
                boolean claim = max > 0 && context.running() && worthLooking();
                if (claim && idle && lookBeforeClaiming && main && settlements.isEmpty()) {
                    // Look before taking the write lock: an idle consumer must not serialise SQLite writers.
                    // (Settlements take it anyway, and may make something claimable: they go with a claim.)
                    OptionalLong next = db.read(c -> store.nextVisibleAt(c, groupId));
                    if (next.isEmpty() || next.getAsLong() > clock.millis()) {
                        claim = false;
                        lookedPast(next.orElse(Claimed.NONE));
                    }
                }
                if (claim || !settlements.isEmpty()) {
                    return settleAndClaim(settlements, claim ? max : 0);
                }
                if (!main) {
                    return List.of();   // helpers leave idle waits to the main fetch thread
                }
                long wait = Math.min(deadline - System.nanoTime(), untilWorthLooking());
                if (wait <= 0) {
                    return List.of();
                }
                if (signal.await(wait) && !worthLooking()) {
                    return List.of();   // the engine's wake-up (a settlement, closing)
                }
            }
        }

        private boolean worthLooking() {
            return lookAgain || newMessages.get() != wakeupsAtClaim
                    || System.nanoTime() - lastClaimNanos >= pollInterval.toNanos()
                    || main && clock.millis() >= nextDue;
        }

        private long untilWorthLooking() {
            long untilPoll = pollInterval.toNanos() - (System.nanoTime() - lastClaimNanos);
            return main ? Math.min(untilPoll, untilDue(nextDue)) : untilPoll;
        }

        /** A look found nothing claimable before {@code next}: wait for it, a wake-up or a poll interval. */
        private void lookedPast(long next) {
            wakeupsAtClaim = newMessages.get();
            lastClaimNanos = System.nanoTime();
            nextDue = next;
            lookAgain = false;
        }

        private List<Fetched<ClaimedRow>> settleAndClaim(List<Settlement> settlements, int limit) throws SQLException {
            if (limit > 0) {
                wakeupsAtClaim = newMessages.get();
                lastClaimNanos = System.nanoTime();
            }
            // After a full claim the next is likely full too (a backlog): it reads no look-ahead, and if
            // it comes back short the main thread claims again at once, with one.
            boolean lookAhead = idle && main;
            Claimed result = store.settleAndClaim(db, groupId, owner, settlements, limit, clock, lease,
                    lookAhead ? pollInterval : Duration.ZERO);
            List<ClaimedRow> rows = result.rows();
            if (limit > 0) {
                if (main) {
                    nextDue = lookAhead || rows.size() == limit ? result.nextVisibleAt() : clock.millis();
                }
                idle = rows.size() < limit;
                lookAgain = !idle;
            }
            List<Fetched<ClaimedRow>> out = new ArrayList<>(rows.size());
            for (ClaimedRow row : rows) {
                out.add(Fetched.of(row, row.message(), row.attempts()).leasedUntil(row.leaseUntil()));
            }
            return out;
        }
    }
}
