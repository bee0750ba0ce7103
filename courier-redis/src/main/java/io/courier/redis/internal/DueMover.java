package io.courier.redis.internal;

import io.courier.spi.ConsumerThreads;
import io.lettuce.core.ScriptOutputType;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves due delayed messages and retries from their sorted sets onto their streams, with the atomic
 * {@link Scripts#MOVE_DUE} script, on one timer thread per transport.
 *
 * <p>A pass runs when the earliest member it knows of is due: each pass learns the earliest score
 * left in every set it watches (from the script), and this process's own delayed publishes and
 * retries announce their due times ({@link #wakeAt}). Members added by other processes are seen by
 * the next pass, at the latest one {@link io.courier.redis.RedisConfig#schedulerInterval() scheduler
 * interval} after the previous one; from then on their due time is known too. So a delayed message
 * is moved within milliseconds of its due time, unless another process added it less than a scheduler
 * interval before it was due.
 *
 * <p>Every process that publishes delayed messages to a topic or consumes it runs the mover for
 * that topic's keys, so delayed messages appear while any of them is alive; running it in several
 * processes at once is safe because each member is moved (and removed) by exactly one script run.
 * Because the sorted set is ordered by due time, a long delay never holds back a short one.
 */
public final class DueMover implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DueMover.class);
    private static final long WARN_EVERY_MS = 30_000;
    private static final long NONE = Long.MAX_VALUE;

    private record Target(byte[] zset, byte[] stream, String trimTopic) {
    }

    private final RedisContext context;
    private final Clock clock;
    private final long intervalMillis;
    private final Map<String, Target> targets = new ConcurrentHashMap<>();
    private final Map<String, Integer> refs = new ConcurrentHashMap<>();
    private final ScheduledThreadPoolExecutor timer;
    /** Guards {@link #next} and {@link #nextAt}. */
    private final Object schedule = new Object();
    private ScheduledFuture<?> next;
    /** When the next pass is scheduled (clock millis), {@link #NONE} while a pass runs. */
    private long nextAt = NONE;
    private volatile long lastWarnAt;
    private volatile boolean closing;

    DueMover(RedisContext context) {
        this.context = context;
        this.clock = context.config().clock();
        this.intervalMillis = context.config().schedulerInterval().toMillis();
        this.timer = new ScheduledThreadPoolExecutor(1, ConsumerThreads.factory("courier-redis-mover", false));
        // A pass moved earlier by a wake-up cancels the one planned; close drops the one planned.
        timer.setRemoveOnCancelPolicy(true);
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        wakeAt(clock.millis() + intervalMillis);
    }

    /**
     * Starts moving due members of {@code zset} onto {@code stream}, trimmed as {@code trimTopic} is
     * (null: never trimmed). Registrations are counted; {@link #unregister} undoes one. The set is
     * looked at at once, so members already in it are moved when due.
     */
    public void register(byte[] zset, byte[] stream, String trimTopic) {
        String name = EntryCodec.text(zset);
        refs.merge(name, 1, Integer::sum);
        if (targets.putIfAbsent(name, new Target(zset, stream, trimTopic)) == null) {
            kick();
        }
    }

    /** Undoes one {@link #register}; the set is no longer watched once every registration is undone. */
    public void unregister(byte[] zset) {
        String name = EntryCodec.text(zset);
        Integer left = refs.computeIfPresent(name, (k, n) -> n > 1 ? n - 1 : null);
        if (left == null) {
            targets.remove(name);
        }
    }

    /** Runs one pass at once (on the timer thread). */
    private void kick() {
        wakeAt(clock.millis());
    }

    /**
     * Makes sure a pass runs no later than {@code dueMillis} (epoch milliseconds of the transport's
     * clock): called once a member due then was added. Thread-safe; cheap when a pass is due earlier.
     */
    public void wakeAt(long dueMillis) {
        synchronized (schedule) {
            if (closing || dueMillis >= nextAt) {
                return;
            }
            if (next != null) {
                next.cancel(false);
            }
            nextAt = dueMillis;
            try {
                next = timer.schedule(this::pass, Math.max(0, dueMillis - clock.millis()), TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                nextAt = NONE;   // the timer is shut down: the transport is closing
            }
        }
    }

    /** Moves what is due in every watched set, then schedules the next pass. */
    private void pass() {
        long started = clock.millis();
        synchronized (schedule) {
            nextAt = NONE;   // wake-ups from here on schedule another pass
            next = null;
        }
        long earliest = NONE;
        for (Target t : List.copyOf(targets.values())) {
            try {
                earliest = Math.min(earliest, moveAllDue(t));
            } catch (Exception e) {
                if (closing || e instanceof InterruptedException || Thread.currentThread().isInterrupted()) {
                    return;
                }
                long now = System.currentTimeMillis();
                if (now - lastWarnAt > WARN_EVERY_MS) {
                    lastWarnAt = now;
                    log.warn("moving due messages from {} failed (retrying every {}): {}", EntryCodec.text(t.zset()),
                            context.config().schedulerInterval(), e.toString());
                } else {
                    log.debug("moving due messages from {} failed: {}", EntryCodec.text(t.zset()), e.toString());
                }
            }
        }
        // The interval bounds the wait for members other processes add; a failed pass is retried then too.
        wakeAt(Math.min(started + intervalMillis, earliest));
    }

    /** Moves the due members of one set; returns the score of the earliest member left, or {@link #NONE}. */
    private long moveAllDue(Target t) throws Exception {
        int limit = context.config().moveBatchSize();
        byte[][] trim = context.trimArgs(t.trimTopic());
        while (true) {
            byte[] now = EntryCodec.bytes(Long.toString(clock.millis()));
            List<Long> result = Scripts.MOVE_DUE.<List<Long>>run(context.control(), ScriptOutputType.MULTI,
                            new byte[][] {t.zset(), t.stream()},
                            now, EntryCodec.bytes(Integer.toString(limit)), trim[0], trim[1], trim[2])
                    .get(context.config().commandTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
            long moved = result.get(0);
            long malformed = result.get(1);
            if (malformed > 0) {
                log.error("dropped {} malformed member(s) of {}: not written by Courier", malformed, EntryCodec.text(t.zset()));
            }
            if (moved + malformed < limit) {
                long earliest = result.get(2);
                return earliest < 0 ? NONE : earliest;
            }
        }
    }

    /** Stops the timer, letting a pass in progress finish for up to a second, then interrupting it. */
    @Override
    public void close() {
        synchronized (schedule) {
            closing = true;
            if (next != null) {
                next.cancel(false);
            }
        }
        timer.shutdown();
        try {
            if (!timer.awaitTermination(1, TimeUnit.SECONDS)) {
                timer.shutdownNow();
            }
        } catch (InterruptedException e) {
            timer.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
