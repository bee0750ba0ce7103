package io.courier.redis.internal;

import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Signal;
import io.lettuce.core.Range;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.UnblockType;
import io.lettuce.core.XReadArgs;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The key-ordering part of a {@link RedisSource} ({@link io.courier.redis.RedisConfig#keyOrdering()}).
 *
 * <p>The storage protocol: the read is the {@link Scripts#READ_KEYED} script, which appends each
 * keyed entry to its key's list in Redis atomically with its delivery to the group, so every key list
 * is in stream order across all consumers of the group; an entry may be handled only while it is the
 * head of its list, and settling removes it from the list (reporting the new head).
 *
 * <p>The split with the engine: an entry that is the head of its key goes to the engine at once, in
 * the engine's lane of its key, and so do the entries of that key read right after it in the same
 * read (they follow it in the list); the engine runs a lane's entries one at a time in order, and
 * holds a failed entry's lane while it waits to be handled again in place. Any other keyed entry
 * waits here, holding an in-flight slot (reads never exceed the engine's room less the waiting
 * entries), until settling reports it as its key's new head, or a look at the heads of the keys it
 * waits on ({@link Scripts#HEADS}, polled every 2 to 50 ms while entries wait) finds it there. That
 * look also takes over a head whose holder let its lease expire (died), even when every slot is
 * taken by entries waiting behind it. Waiting entries have their leases renewed every third of the
 * lease ({@link Scripts#RENEW}), so waiting never makes them look abandoned.
 *
 * <p>Thread-safe: the fetch thread calls everything except {@link #settled}, {@link #lost} and
 * {@link #wakeUp}, which come from any thread.
 */
final class KeyOrder {

    private static final Logger log = LoggerFactory.getLogger(KeyOrder.class);
    /** Shortest and longest pause between two looks at the heads of the keys this consumer waits on. */
    private static final long POLL_MIN_MILLIS = 2;
    private static final long POLL_MAX_MILLIS = 50;
    /** Key lists or entries per script call. */
    private static final int BATCH = 100;

    /** The entries this consumer holds of one message key. Guarded by the {@link KeyOrder}. */
    private static final class Lane {
        final byte[] keyList;
        /** Entries given to the engine and not settled, by tag. */
        final Map<String, RedisEntry> handed = new HashMap<>();
        /** Entries waiting for their turn, by tag, in the order they came. */
        final Map<String, RedisEntry> waiting = new LinkedHashMap<>();

        Lane(byte[] keyList) {
            this.keyList = keyList;
        }
    }

    private final RedisSource source;
    private final GroupStreams streams;
    private final RedisContext context;
    private final Map<String, Lane> lanes = new HashMap<>();
    /** Waiting entries whose turn came, to give to the engine with the next exchange. */
    private final ArrayDeque<RedisEntry> ready = new ArrayDeque<>();
    private final Signal turn = new Signal();
    private int waiting;
    private long pollMillis = POLL_MIN_MILLIS;
    private long nextPollAt;
    private long nextRenewAt;
    private final long renewEveryNanos;
    /** True while the fetch thread blocks on the doorbell read. */
    private volatile boolean ringing;

    KeyOrder(RedisSource source) {
        this.source = source;
        this.streams = source.streams;
        this.context = source.context;
        this.renewEveryNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(20), streams.options.leaseTimeout().toNanos() / 3);
        this.nextRenewAt = System.nanoTime() + renewEveryNanos;
    }

    /** Entries waiting here (their turn come or not): they hold in-flight slots the engine does not see. */
    synchronized int waiting() {
        return waiting + ready.size();
    }

    // ---------------------------------------------------------------- fetching

    /** Moves entries whose turn came to {@code out}, up to {@code max} in all. */
    synchronized void handOverReady(List<Fetched<RedisEntry>> out, int max) {
        long leaseUntil = source.leaseUntil();
        while (out.size() < max && !ready.isEmpty()) {
            RedisEntry e = ready.poll();
            lane(e).handed.put(e.tag(), e);
            out.add(RedisSource.fetched(e, leaseUntil));
        }
    }

    /**
     * Renews waiting entries and looks at the heads of waited-on keys when due, then, when that gave
     * nothing, reads new entries (if the in-flight budget has room for them) or waits for a turn.
     */
    void fetch(List<Fetched<RedisEntry>> out, int max, Duration maxWait) throws Exception {
        if (System.nanoTime() - nextRenewAt >= 0) {
            renew();
        }
        boolean waits = !waitingLanes().isEmpty();
        if (waits && System.nanoTime() - nextPollAt >= 0) {
            boolean progress = pollHeads();
            pollMillis = progress ? POLL_MIN_MILLIS : Math.min(POLL_MAX_MILLIS, pollMillis * 2);
            nextPollAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pollMillis);
        }
        handOverReady(out, max);
        if (!out.isEmpty() || !source.engine().running()) {
            return;
        }
        int room = max - waiting();
        long wait = waits ? Math.min(pollMillis, source.blockMillis(maxWait)) : source.blockMillis(maxWait);
        if (room > 0) {
            read(out, Math.min(room, context.config().readBatchSize()), wait);
        } else if (wait > 0) {
            turn.awaitMillis(wait);
        }
        handOverReady(out, max);
    }

    /**
     * Reads with {@link Scripts#READ_KEYED}. A script cannot block, so when nothing was read this
     * blocks up to {@code waitMillis} on a plain {@code XREAD} after the last entry ids instead: a
     * doorbell that rings as soon as an entry is added (and is ended at once by close, which closes
     * the connection).
     */
    @SuppressWarnings("unchecked")
    private void read(List<Fetched<RedisEntry>> out, int count, long waitMillis) throws Exception {
        List<Object> reply = streams.await(Scripts.READ_KEYED.<List<Object>>run(source.reader().async(),
                ScriptOutputType.MULTI, new byte[][] {streams.stream, streams.retryStream}, streams.group,
                streams.consumerNameBytes, EntryCodec.bytes(Integer.toString(count)),
                context.keys().keyListPrefix(streams.options.topic(), streams.options.group())));
        if (reply.size() <= 2) {
            if (waitMillis > 0 && source.engine().running()) {
                doorbell(EntryCodec.text((byte[]) reply.get(0)), EntryCodec.text((byte[]) reply.get(1)), waitMillis);
            }
            return;
        }
        long leaseUntil = source.leaseUntil();
        Set<String> chained = new HashSet<>();   // keys whose previous entry in this read went to the engine
        for (int i = 2; i + 3 < reply.size(); i += 4) {
            boolean retry = "r".equals(EntryCodec.text((byte[]) reply.get(i)));
            String id = EntryCodec.text((byte[]) reply.get(i + 1));
            boolean head = ((Long) reply.get(i + 2)) == 1L;
            RedisEntry e = source.accept(retry, id, fieldMap((List<Object>) reply.get(i + 3)), 1);
            if (e == null) {
                continue;
            }
            if (e.laneKey() == null) {
                out.add(RedisSource.fetched(e, leaseUntil));
            } else if (head || chained.contains(e.laneKey())) {
                // The entries of one key in one read follow each other in its list: the engine's lane keeps their order.
                chained.add(e.laneKey());
                synchronized (this) {
                    lane(e).handed.put(e.tag(), e);
                }
                out.add(RedisSource.fetched(e, leaseUntil));
            } else {
                await(e);
            }
        }
    }

    /**
     * Blocks until an entry is added after {@code lastId} / {@code lastRetryId} or {@code waitMillis}
     * pass; a turn coming meanwhile ends it early ({@code CLIENT UNBLOCK}, see {@link #nudge()}).
     */
    private void doorbell(String lastId, String lastRetryId, long waitMillis) {
        try {
            source.knowReaderId();
            ringing = true;
            source.reader().sync().xread(XReadArgs.Builder.block(waitMillis).count(1),
                    XReadArgs.StreamOffset.from(streams.stream, lastId),
                    XReadArgs.StreamOffset.from(streams.retryStream, lastRetryId));
        } catch (RuntimeException e) {
            source.forgetReaderId();
            throw e;
        } finally {
            ringing = false;
        }
    }

    /** A turn came or a key began to wait: ends a wait of the fetch thread. */
    private void nudge() {
        turn.signal();
        long id = source.readerId();
        if (ringing && id >= 0) {
            context.control().clientUnblock(id, UnblockType.TIMEOUT);   // best effort: the read ends by itself soon
        }
    }

    static Map<byte[], byte[]> fieldMap(List<Object> fields) {
        Map<byte[], byte[]> body = new LinkedHashMap<>();
        for (int j = 0; j + 1 < fields.size(); j += 2) {
            body.put((byte[]) fields.get(j), (byte[]) fields.get(j + 1));
        }
        return body;
    }

    /** Makes keyed entry {@code e} wait here for its turn. */
    synchronized void await(RedisEntry e) {
        Lane lane = lane(e);
        if (lane.waiting.put(e.tag(), e) == null) {
            waiting++;
        }
        if (lane.handed.isEmpty()) {
            nextPollAt = System.nanoTime();   // look at its key's head soon
        }
    }

    private Lane lane(RedisEntry e) {
        return lanes.computeIfAbsent(e.laneKey(), k -> new Lane(e.keyList()));
    }

    // ---------------------------------------------------------------- turns

    /**
     * Keyed entry {@code e} was settled; {@code head}, when known, is its key's new head: when this
     * consumer waits with it, its turn has come.
     */
    void settled(RedisEntry e, String head) {
        boolean nudge = false;
        synchronized (this) {
            Lane lane = lanes.get(e.laneKey());
            if (lane == null) {
                return;
            }
            lane.handed.remove(e.tag());
            RedisEntry next = head == null ? null : lane.waiting.remove(head);
            if (next != null) {
                waiting--;
                ready.add(next);
                nudge = true;
            } else if (lane.handed.isEmpty() && !lane.waiting.isEmpty()) {
                nextPollAt = System.nanoTime();
                nudge = true;
            }
            if (lane.handed.isEmpty() && lane.waiting.isEmpty()) {
                lanes.remove(e.laneKey());
            }
        }
        if (nudge) {
            nudge();
        }
    }

    /** Keyed entry {@code e} (given to the engine or waiting) is no longer this consumer's. */
    synchronized void lost(RedisEntry e) {
        Lane lane = lanes.get(e.laneKey());
        if (lane == null) {
            return;
        }
        lane.handed.remove(e.tag());
        if (lane.waiting.remove(e.tag()) != null) {
            waiting--;
        }
        if (lane.handed.isEmpty() && lane.waiting.isEmpty()) {
            lanes.remove(e.laneKey());
        }
    }

    /** Ends a wait for a turn. */
    void wakeUp() {
        turn.signal();
    }

    /** Keys with waiting entries and none in the engine: key to key list. */
    private synchronized List<Map.Entry<String, byte[]>> waitingLanes() {
        List<Map.Entry<String, byte[]>> out = new ArrayList<>();
        for (Map.Entry<String, Lane> e : lanes.entrySet()) {
            Lane lane = e.getValue();
            if (lane.handed.isEmpty() && !lane.waiting.isEmpty()) {
                out.add(Map.entry(e.getKey(), lane.keyList));
            }
        }
        return out;
    }

    /** Asks Redis for the heads of the keys this consumer waits on; true if something changed. */
    @SuppressWarnings("unchecked")
    private boolean pollHeads() throws Exception {
        List<Map.Entry<String, byte[]>> lanesWaiting = waitingLanes();
        boolean progress = false;
        byte[] lease = EntryCodec.bytes(Long.toString(streams.leaseMillis()));
        for (int from = 0; from < lanesWaiting.size(); from += BATCH) {
            List<Map.Entry<String, byte[]>> batch = lanesWaiting.subList(from, Math.min(lanesWaiting.size(), from + BATCH));
            byte[][] keys = new byte[2 + batch.size()][];
            keys[0] = streams.stream;
            keys[1] = streams.retryStream;
            for (int i = 0; i < batch.size(); i++) {
                keys[2 + i] = batch.get(i).getValue();
            }
            List<Object> reply = streams.await(Scripts.HEADS.<List<Object>>run(context.control(), ScriptOutputType.MULTI,
                    keys, streams.group, streams.consumerNameBytes, lease));
            for (int i = 0; i < batch.size() && i < reply.size(); i++) {
                List<Object> r = (List<Object>) reply.get(i);
                progress |= onHead(batch.get(i).getKey(), EntryCodec.text((byte[]) r.get(0)),
                        EntryCodec.text((byte[]) r.get(1)), (Long) r.get(2), (List<Object>) r.get(3));
            }
        }
        return progress;
    }

    /** Acts on what Redis said about the head of a key this consumer waits on; true if something changed. */
    private boolean onHead(String laneKey, String state, String tag, long deliveries, List<Object> fields) throws Exception {
        switch (state) {
            case "mine" -> {
                synchronized (this) {
                    Lane lane = lanes.get(laneKey);
                    if (lane == null || !lane.handed.isEmpty()) {
                        return false;
                    }
                    RedisEntry e = lane.waiting.remove(tag);
                    if (e != null) {
                        waiting--;
                        ready.add(e);
                        return true;
                    }
                }
                // Pending for this consumer but not held (a read reply lost to a connection cut): fetch it.
                String id = tag.substring(2);
                boolean retry = tag.startsWith("r:");
                List<StreamMessage<byte[], byte[]>> found = streams.await(context.control().xrange(
                        streams.source(retry), Range.create(id, id)).toCompletableFuture());
                return !found.isEmpty() && adopt(retry, id, deliveries, found.get(0).getBody());
            }
            case "claimed" -> {
                log.info("took over entry {} of topic '{}' for group '{}': the head of its key, idle longer than {}",
                        tag.substring(2), streams.options.topic(), streams.options.group(), streams.options.leaseTimeout());
                source.held.remove(tag);
                synchronized (this) {
                    Lane lane = lanes.get(laneKey);
                    if (lane != null && lane.waiting.remove(tag) != null) {
                        waiting--;
                    }
                }
                return adopt(tag.startsWith("r:"), tag.substring(2), deliveries, fieldMap(fields));
            }
            case "other" -> {
                RedisEntry gone;
                synchronized (this) {
                    Lane lane = lanes.get(laneKey);
                    gone = lane != null && lane.handed.isEmpty() ? lane.waiting.get(tag) : null;
                }
                if (gone != null) {
                    source.lost(gone);
                    return true;
                }
                return false;
            }
            default -> {
                // The key list is empty but this consumer holds entries of the key: they were read before key
                // ordering was turned on (or the list was deleted). Nothing orders them any more: run them one at
                // a time, oldest first.
                synchronized (this) {
                    Lane lane = lanes.get(laneKey);
                    if (lane == null || !lane.handed.isEmpty() || lane.waiting.isEmpty()) {
                        return false;
                    }
                    RedisEntry oldest = null;
                    for (RedisEntry e : lane.waiting.values()) {
                        if (oldest == null || compareIds(e.entryId(), oldest.entryId()) < 0) {
                            oldest = e;
                        }
                    }
                    lane.waiting.remove(oldest.tag());
                    waiting--;
                    ready.add(oldest);
                    return true;
                }
            }
        }
    }

    /** Takes an entry Redis gave this consumer (a claimed head, an own entry fetched again) as its key's turn. */
    private boolean adopt(boolean retry, String id, long deliveries, java.util.Map<byte[], byte[]> body) {
        RedisEntry e = source.accept(retry, id, body, deliveries);
        if (e == null) {
            return false;
        }
        synchronized (this) {
            ready.add(e);
        }
        return true;
    }

    /**
     * Renews the lease of the entries waiting here; forgets those no longer this consumer's, and
     * gives the turn to those in no key list (read before key ordering) when their key has nothing
     * in the engine.
     */
    void renewIfDue() throws Exception {
        if (System.nanoTime() - nextRenewAt >= 0) {
            renew();
        }
    }

    @SuppressWarnings("unchecked")
    private void renew() throws Exception {
        nextRenewAt = System.nanoTime() + renewEveryNanos;
        takeBackExpired();
        List<RedisEntry> idle = new ArrayList<>();
        synchronized (this) {
            for (Lane lane : lanes.values()) {
                idle.addAll(lane.waiting.values());
            }
        }
        for (int from = 0; from < idle.size(); from += BATCH) {
            List<RedisEntry> batch = idle.subList(from, Math.min(idle.size(), from + BATCH));
            byte[][] keys = new byte[2 + batch.size()][];
            byte[][] args = new byte[2 + batch.size()][];
            keys[0] = streams.stream;
            keys[1] = streams.retryStream;
            args[0] = streams.group;
            args[1] = streams.consumerNameBytes;
            for (int i = 0; i < batch.size(); i++) {
                keys[2 + i] = batch.get(i).keyList();
                args[2 + i] = EntryCodec.bytes(batch.get(i).tag());
            }
            List<Object> reply = streams.await(Scripts.RENEW.<List<Object>>run(context.control(), ScriptOutputType.MULTI,
                    keys, args));
            for (int i = 0; i < batch.size() && i < reply.size(); i++) {
                long state = (Long) reply.get(i);
                RedisEntry e = batch.get(i);
                if (state == 1) {
                    source.lost(e);
                } else if (state == 2) {
                    synchronized (this) {
                        Lane lane = lanes.get(e.laneKey());
                        if (lane != null && lane.handed.isEmpty() && lane.waiting.remove(e.tag()) == e) {
                            waiting--;
                            ready.add(e);
                        }
                    }
                }
            }
        }
    }

    /**
     * Entries given to the engine whose lease there ran out before they started (extensions failed,
     * Redis was unreachable) are dropped by the engine without a word: without this their keys would
     * look busy here for good. Such an entry, not running, is taken back from the engine and waits
     * again; the look at its key's head then tells whether it is still this consumer's.
     */
    private void takeBackExpired() {
        long now = context.config().clock().millis();
        List<RedisEntry> expired = new ArrayList<>();
        synchronized (this) {
            for (Lane lane : lanes.values()) {
                for (RedisEntry e : lane.handed.values()) {
                    if (e.leaseUntil() < now) {
                        expired.add(e);
                    }
                }
            }
        }
        for (RedisEntry e : expired) {
            try {
                if (!source.engine().awaitHandled(f -> f.record() == e, Duration.ZERO)) {
                    continue;   // running: it settles (or is found lost) by itself
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return;
            }
            source.engine().discardUnstarted(f -> f.record() == e);
            synchronized (this) {
                Lane lane = lanes.get(e.laneKey());
                if (lane != null && lane.handed.remove(e.tag()) != null && lane.waiting.put(e.tag(), e) == null) {
                    waiting++;
                    nextPollAt = System.nanoTime();
                }
            }
        }
    }

    // ---------------------------------------------------------------- closing

    /**
     * How long a keyed entry handed back on close is marked idle: one waiting for its in-place
     * redelivery goes back only when that redelivery is due, marked idle for the lease timeout less
     * the time left, so a reclaim (which takes entries idle for a lease) finds it then however soon
     * the group is consumed again (Redis keeps idle times in the past, so a redelivery due more than
     * a lease ahead comes back after one lease); any other at once.
     */
    Duration idleOnRelease(RedisEntry e) {
        synchronized (this) {
            Lane lane = lanes.get(e.laneKey());
            if (lane != null) {
                lane.handed.remove(e.tag());
                if (lane.handed.isEmpty() && lane.waiting.isEmpty()) {
                    lanes.remove(e.laneKey());
                }
            }
        }
        long dueAt = e.redeliveryDueAt();
        if (dueAt == 0) {
            return RedisSource.RELEASED_IDLE;
        }
        long left = Math.max(0, dueAt - context.config().clock().millis());
        long idle = streams.options.leaseTimeout().toMillis() - left;
        return Duration.ofMillis(Math.max(0, idle));
    }

    /** Forgets every entry waiting here and returns how to hand each back: at once, not counted as an attempt. */
    synchronized Map<String, RedisSource.GiveBack> releaseWaiting() {
        Map<String, RedisSource.GiveBack> out = new LinkedHashMap<>();
        List<RedisEntry> all = new ArrayList<>(ready);
        ready.clear();
        for (Iterator<Lane> it = lanes.values().iterator(); it.hasNext(); ) {
            Lane lane = it.next();
            all.addAll(lane.waiting.values());
            lane.waiting.clear();
            if (lane.handed.isEmpty()) {
                it.remove();
            }
        }
        waiting = 0;
        for (RedisEntry e : all) {
            source.held.remove(e.tag());
            out.put(e.tag(), new RedisSource.GiveBack(e.deliveriesBeforeThisAttempt(), RedisSource.RELEASED_IDLE));
        }
        return out;
    }

    /** Orders stream entry ids {@code <ms>-<seq>} numerically. */
    static int compareIds(String a, String b) {
        int da = a.indexOf('-');
        int db = b.indexOf('-');
        try {
            int c = Long.compare(Long.parseLong(a.substring(0, da)), Long.parseLong(b.substring(0, db)));
            return c != 0 ? c : Long.compare(Long.parseLong(a.substring(da + 1)), Long.parseLong(b.substring(db + 1)));
        } catch (RuntimeException e) {
            return a.compareTo(b);
        }
    }
}
