package io.courier.redis.internal;

import io.courier.spi.ConsumerThreads;
import io.lettuce.core.ScriptOutputType;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves due delayed messages and retries from their sorted sets onto their streams, with the atomic
 * {@link Scripts#MOVE_DUE} script, on one timer thread per transport.
 *
 * <p>Every process that publishes delayed messages to a topic or consumes it runs the mover for
 * that topic's keys, so delayed messages appear while any of them is alive; running it in several
 * processes at once is safe because each member is moved (and removed) by exactly one script run.
 * Because the sorted set is ordered by due time, a long delay never holds back a short one.
 */
public final class DueMover implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DueMover.class);
    private static final long WARN_EVERY_MS = 30_000;

    private record Target(byte[] zset, byte[] stream, String trimTopic) {
    }

    private final RedisContext context;
    private final Map<String, Target> targets = new ConcurrentHashMap<>();
    private final Map<String, Integer> refs = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;
    private volatile long lastWarnAt;
    private volatile boolean closing;

    DueMover(RedisContext context) {
        this.context = context;
        this.timer = Executors.newSingleThreadScheduledExecutor(ConsumerThreads.factory("courier-redis-mover", false));
        long interval = context.config().schedulerInterval().toMillis();
        timer.scheduleWithFixedDelay(this::tick, interval, interval, TimeUnit.MILLISECONDS);
    }

    /**
     * Starts moving due members of {@code zset} onto {@code stream}, trimmed as {@code trimTopic} is
     * (null: never trimmed). Registrations are counted; {@link #unregister} undoes one.
     */
    public void register(byte[] zset, byte[] stream, String trimTopic) {
        String name = EntryCodec.text(zset);
        refs.merge(name, 1, Integer::sum);
        targets.putIfAbsent(name, new Target(zset, stream, trimTopic));
    }

    /** Undoes one {@link #register}; the set is no longer watched once every registration is undone. */
    public void unregister(byte[] zset) {
        String name = EntryCodec.text(zset);
        Integer left = refs.computeIfPresent(name, (k, n) -> n > 1 ? n - 1 : null);
        if (left == null) {
            targets.remove(name);
        }
    }

    /** Runs one pass at once (on the timer thread), e.g. right after a zero-delay retry. */
    public void kick() {
        try {
            timer.execute(this::tick);
        } catch (RuntimeException e) {
            // the timer is shut down: the transport is closing
        }
    }

    private void tick() {
        for (Target t : List.copyOf(targets.values())) {
            try {
                moveAllDue(t);
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
    }

    private void moveAllDue(Target t) throws Exception {
        int limit = context.config().moveBatchSize();
        byte[][] trim = context.trimArgs(t.trimTopic());
        while (true) {
            byte[] now = EntryCodec.bytes(Long.toString(context.config().clock().millis()));
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
                return;
            }
        }
    }

    /** Stops the timer, letting a pass in progress finish for up to a second, then interrupting it. */
    @Override
    public void close() {
        closing = true;
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
