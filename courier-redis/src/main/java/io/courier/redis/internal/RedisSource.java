package io.courier.redis.internal;

import io.courier.Message;
import io.courier.spi.Outcome;
import io.courier.spi.engine.DeliverySource;
import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Settled;
import io.courier.spi.engine.SourceContext;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XAutoClaimArgs;
import io.lettuce.core.XClaimArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.models.stream.ClaimedMessages;
import io.lettuce.core.models.stream.PendingMessage;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis Streams {@link DeliverySource} of one consumer of one group on one topic.
 *
 * <p>Each {@link #exchange} first does what is due of: taking up this consumer's own pending entries
 * after a restart under a stable name (once), removing idle consumers of the group, and reclaiming
 * entries of the group idle longer than the lease ({@code XAUTOCLAIM}, every
 * {@link io.courier.redis.RedisConfig#claimInterval() claim interval}), honouring each entry's
 * delivery count from {@code XPENDING}; then, when that found nothing, it reads new entries of the
 * topic stream and of the group's retry stream with {@code XREADGROUP ... BLOCK} on a connection of
 * its own. Entries delivered more than {@link io.courier.redis.RedisConfig#maxDeliveries()} times, or
 * that cannot be decoded, go to the dead-letter stream without reaching the handler. With key
 * ordering, {@link KeyOrder} reads instead and decides when a keyed entry may go to the engine.
 *
 * <p>Settlement runs on the handler's thread ({@link #settlesOnWorker()}) and returns at once:
 * acknowledgements are batched into few {@code XACK}s by {@link EntrySettler}. Leases are extended
 * with {@code XCLAIM ... JUSTID} (only entries still this consumer's); close hands entries never
 * handled back to the group marked long idle, so that the next reclaim takes them at once.
 */
final class RedisSource implements DeliverySource<RedisEntry> {

    private static final Logger log = LoggerFactory.getLogger(RedisSource.class);
    /** Idle time given to entries released on close, so that any lease considers them expired. */
    static final Duration RELEASED_IDLE = Duration.ofDays(365);
    /** Entries per lease extension script call. */
    private static final int EXTEND_BATCH = 100;

    /** How an entry goes back to the group: with this delivery count, marked idle this long. */
    record GiveBack(long deliveries, Duration idle) {
    }

    final GroupStreams streams;
    final RedisContext context;
    final EntrySettler settler;
    private final int maxDeliveries;
    /** Key ordering; null without it. */
    private final KeyOrder keyOrder;
    private final byte[] keyListPrefix;
    /** Tags of the entries fetched and not settled (or settling): a reclaim of one of them is ignored. */
    final Set<String> held = ConcurrentHashMap.newKeySet();
    /** Tags given back to the group. */
    private final Set<String> released = ConcurrentHashMap.newKeySet();
    private final String[] claimCursor = {"0-0", "0-0"};
    private final long claimEveryNanos;
    private final long cleanupEveryNanos;
    private volatile SourceContext<RedisEntry> engine;
    private volatile StatefulRedisConnection<byte[], byte[]> reader;
    private final AtomicBoolean readerClosed = new AtomicBoolean();
    /**
     * The reader connection's client id on the server; -1 when not known (yet, or since a failure), -2
     * when Redis refused {@code CLIENT ID} (an ACL): close then only closes the connection.
     */
    private volatile long readerId = -1;
    /** True once the due-message schedules are registered with the mover (undone by close). */
    private volatile boolean registered;
    private long nextClaimAt;
    private long nextCleanupAt;
    /** Own pending entries to take up after a restart: index of the stream being read (2: done), and the last id. */
    private int recovering;
    private String recoveredUpTo = "0";

    RedisSource(GroupStreams streams) {
        this.streams = streams;
        this.context = streams.context;
        this.settler = new EntrySettler(streams);
        this.maxDeliveries = settler.maxDeliveries();
        this.claimEveryNanos = context.config().claimInterval().toNanos();
        this.cleanupEveryNanos = streams.cleanupInterval().toNanos();
        this.recovering = streams.options.consumerName().isEmpty() ? 2 : 0;   // a generated name owns nothing yet
        this.keyListPrefix = context.keys().keyListPrefix(streams.options.topic(), streams.options.group());
        this.keyOrder = context.config().keyOrdering() ? new KeyOrder(this) : null;
    }

    @Override
    public void start(SourceContext<RedisEntry> context) {
        this.engine = context;
        streams.createGroups(streams.options.startPosition() == io.courier.StartPosition.LATEST ? "$" : "0");
        this.reader = this.context.openReader();
        this.context.mover().register(streams.delayed, streams.stream, streams.options.topic());
        this.context.mover().register(streams.retryDue, streams.retryStream, null);
        registered = true;
        long now = System.nanoTime();
        nextClaimAt = now;
        nextCleanupAt = now;
    }

    /** The engine this source runs under. */
    SourceContext<RedisEntry> engine() {
        return engine;
    }

    /** The connection of this consumer's reads. */
    StatefulRedisConnection<byte[], byte[]> reader() {
        return reader;
    }

    // ---------------------------------------------------------------- fetching

    @Override
    public List<Fetched<RedisEntry>> exchange(List<Settled<RedisEntry>> settled, int max, Duration maxWait) throws Exception {
        List<Fetched<RedisEntry>> out = new ArrayList<>();
        if (max == 0) {
            return out;
        }
        try {
            if (keyOrder != null) {
                keyOrder.handOverReady(out, max);
            }
            int room = keyOrder == null ? max : max - keyOrder.waiting();
            takeUpOwnPending(out, room);
            long now = System.nanoTime();
            if (now - nextCleanupAt >= 0) {
                streams.removeIdleConsumers();
                nextCleanupAt = now + cleanupEveryNanos;
            }
            if (out.isEmpty() && now - nextClaimAt >= 0) {
                reclaim(out, keyOrder == null ? max : max - keyOrder.waiting());
                nextClaimAt = System.nanoTime() + claimEveryNanos;
            }
            if (keyOrder != null) {
                keyOrder.fetch(out, max, maxWait);
            } else if (out.isEmpty() && engine.running()) {
                read(out, max, maxWait);
            }
        } catch (Exception e) {
            if (!engine.running() || !out.isEmpty()) {
                // closing (the reader's connection was closed to end the read), or entries to hand over first:
                // a lasting failure shows again on the next exchange
                log.debug("{}/{}: fetch ended early: {}", streams.options.topic(), streams.options.group(), e.toString());
                return out;
            }
            if ("NOGROUP".equals(RedisSubscription.errorCode(e))) {
                // The stream or the group was deleted (or Redis lost its data): recreate both, reading
                // from the start of what exists now so nothing published from here on is missed.
                log.warn("group '{}' of topic '{}' vanished; recreating it", streams.options.group(), streams.options.topic());
                streams.createGroups("0");
                return out;
            }
            throw e;
        }
        return out;
    }

    /** Reads new entries, waiting up to {@code maxWait} (and the configured block timeout) for some. */
    private void read(List<Fetched<RedisEntry>> out, int max, Duration maxWait) {
        XReadArgs args = XReadArgs.Builder.count(Math.min(max, context.config().readBatchSize()));
        long block = blockMillis(maxWait);
        if (block > 0) {
            args.block(block);
        }
        List<StreamMessage<byte[], byte[]>> entries;
        try {
            knowReaderId();
            entries = reader.sync().xreadgroup(streams.consumer, args,
                    XReadArgs.StreamOffset.lastConsumed(streams.stream), XReadArgs.StreamOffset.lastConsumed(streams.retryStream));
        } catch (RuntimeException e) {
            forgetReaderId();
            throw e;
        }
        long leaseUntil = leaseUntil();
        for (StreamMessage<byte[], byte[]> e : entries) {
            RedisEntry entry = accept(Arrays.equals(e.getStream(), streams.retryStream), e.getId(), e.getBody(), 1);
            if (entry != null) {
                out.add(fetched(entry, leaseUntil));
            }
        }
    }

    /** Learns the reader connection's client id, unless known: once per connection. */
    void knowReaderId() {
        if (readerId == -1) {
            try {
                readerId = reader.sync().clientId();
            } catch (RedisCommandExecutionException e) {
                readerId = -2;
                log.debug("{}/{}: CLIENT ID refused ({}); close cannot make sure a blocked read is over",
                        streams.options.topic(), streams.options.group(), e.getMessage());
            }
        }
    }

    /** The reader connection's client id on the server, or -1 when not known. */
    long readerId() {
        return readerId;
    }

    /** Forgets the reader connection's client id after a failure (a reconnect makes a new client). */
    void forgetReaderId() {
        if (readerId >= 0) {
            readerId = -1;
        }
    }

    /**
     * How long a read may block: {@code maxWait} and the configured block timeout, and a third of the
     * lease so that the engine gets to extend leases; 0: do not block.
     */
    long blockMillis(Duration maxWait) {
        long wait = Math.min(maxWait.toMillis(), context.config().blockTimeout().toMillis());
        return Math.min(wait, Math.max(1, streams.leaseMillis() / 3));
    }

    /** After a restart under a stable name: takes up this consumer's own pending entries at once, a batch per call. */
    private void takeUpOwnPending(List<Fetched<RedisEntry>> out, int room) throws Exception {
        while (recovering < 2 && out.isEmpty() && room > 0) {
            byte[] key = recovering == 0 ? streams.stream : streams.retryStream;
            List<StreamMessage<byte[], byte[]>> entries = reader.sync().xreadgroup(streams.consumer,
                    XReadArgs.Builder.count(Math.min(room, context.config().readBatchSize())),
                    XReadArgs.StreamOffset.from(key, recoveredUpTo));
            if (entries.isEmpty()) {
                recovering++;
                recoveredUpTo = "0";
                continue;
            }
            Map<String, Long> counts = streams.deliveryCounts(key, entries);
            takeOver(out, key == streams.retryStream, entries, counts, 1L);
            recoveredUpTo = entries.get(entries.size() - 1).getId();
            if (out.isEmpty() && keyOrder != null) {
                return;   // all wait for their keys: read on in the next exchange, with the room left then
            }
        }
    }

    /** Claims entries of the group idle longer than the lease (their consumer died or hung). */
    private void reclaim(List<Fetched<RedisEntry>> out, int room) throws Exception {
        byte[][] keys = {streams.stream, streams.retryStream};
        for (int i = 0; i < keys.length && engine.running(); i++) {
            int left = room - out.size();
            if (left <= 0) {
                return;
            }
            ClaimedMessages<byte[], byte[]> claimed = streams.await(context.control().xautoclaim(keys[i],
                    XAutoClaimArgs.Builder.xautoclaim(streams.consumer, streams.options.leaseTimeout(), claimCursor[i])
                            .count(Math.min(left, context.config().claimBatchSize()))).toCompletableFuture());
            claimCursor[i] = claimed.getId();
            List<StreamMessage<byte[], byte[]>> entries = claimed.getMessages();
            if (entries.isEmpty()) {
                continue;
            }
            Map<String, Long> counts = streams.deliveryCounts(keys[i], entries);
            log.info("reclaimed {} entries of topic '{}' idle longer than {} for group '{}'", entries.size(),
                    streams.options.topic(), streams.options.leaseTimeout(), streams.options.group());
            takeOver(out, keys[i] == streams.retryStream, entries, counts, 2L);
        }
    }

    /** Accepts entries this consumer took over (own pending, reclaimed); keyed ones wait for their keys' turn. */
    private void takeOver(List<Fetched<RedisEntry>> out, boolean retry, List<StreamMessage<byte[], byte[]>> entries,
                          Map<String, Long> counts, long defaultCount) {
        long leaseUntil = leaseUntil();
        for (StreamMessage<byte[], byte[]> e : entries) {
            RedisEntry entry = accept(retry, e.getId(), e.getBody(), counts.getOrDefault(e.getId(), defaultCount));
            if (entry == null) {
                continue;
            }
            if (keyOrder != null && entry.laneKey() != null) {
                keyOrder.await(entry);
            } else {
                out.add(fetched(entry, leaseUntil));
            }
        }
    }

    /**
     * Decodes one fetched entry, unless it is already held here, was trimmed while pending
     * (acknowledged: nothing left to deliver), cannot be decoded or was delivered too often (both
     * dead-lettered); returns null in those cases. The entry counts as held from here on.
     */
    RedisEntry accept(boolean retry, String id, Map<byte[], byte[]> body, long deliveries) {
        if (body == null || body.isEmpty()) {
            settler.ackDeleted(retry, id);
            return null;
        }
        String tag = RedisEntry.tag(retry, id);
        if (held.contains(tag)) {
            return null;   // this consumer is still handling it (a handler slower than the lease)
        }
        byte[] keyList = null;
        String laneKey = null;
        if (keyOrder != null) {
            byte[] rawKey = EntryCodec.rawKey(body);
            if (rawKey != null) {
                keyList = Arrays.copyOf(keyListPrefix, keyListPrefix.length + rawKey.length);
                System.arraycopy(rawKey, 0, keyList, keyListPrefix.length, rawKey.length);
                laneKey = new String(rawKey, StandardCharsets.ISO_8859_1);
            }
        }
        EntryCodec.Decoded decoded;
        try {
            decoded = EntryCodec.decode(id, body);
        } catch (RuntimeException e) {
            RedisEntry bad = RedisEntry.of(retry, id, undecodable(id), deliveries, keyList, laneKey);
            held.add(tag);
            settler.deadLetter(bad, bad.decoded().message(), "undecodable", e, head -> settled(bad, head));
            return null;
        }
        RedisEntry entry = RedisEntry.of(retry, id, decoded, deliveries, keyList, laneKey);
        held.add(tag);
        if (entry.attempt() > maxDeliveries) {
            settler.deadLetter(entry, decoded.message(), "max-deliveries", null, head -> settled(entry, head));
            return null;
        }
        return entry;
    }

    /** For an entry that cannot be decoded: a message holding only the entry id. */
    static EntryCodec.Decoded undecodable(String entryId) {
        return new EntryCodec.Decoded(Message.builder().id(entryId).payload(new byte[0]).build(), 1, Optional.empty());
    }

    /** {@code entry} as the engine takes it: in its key's lane (if key-ordered), leased until {@code leaseUntil}. */
    static Fetched<RedisEntry> fetched(RedisEntry entry, long leaseUntil) {
        entry.leasedUntil(leaseUntil);
        return new Fetched<>(entry, entry.decoded().message(), entry.attempt(), entry.laneKey(), 0, leaseUntil);
    }

    /** When a lease taken now ends (epoch ms). */
    long leaseUntil() {
        return context.config().clock().millis() + streams.leaseMillis();
    }

    // ---------------------------------------------------------------- settling

    @Override
    public boolean settlesOnWorker() {
        return true;
    }

    @Override
    public void settle(Settled<RedisEntry> s) throws Exception {
        RedisEntry e = s.record();
        if (keyOrder != null && e.laneKey() != null && s.outcome() instanceof Outcome.Failed failed
                && e.attempt() < maxDeliveries) {
            // Failed while closing (no in-place retry any more): it keeps its place in its key and goes back to
            // the group, to be taken when its redelivery is due, rather than to the retry stream.
            e.redeliverInPlace(context.config().clock().millis() + Math.max(0, failed.redeliveryDelay().toMillis()));
            held.remove(e.tag());
            giveBack(Map.of(e.tag(), new GiveBack(e.deliveriesBeforeThisAttempt(), keyOrder.idleOnRelease(e))));
            return;
        }
        settler.settle(e, s.outcome(), head -> settled(e, head));
    }

    /** {@code e} is settled ({@code head}: its key's new head, when known). */
    private void settled(RedisEntry e, String head) {
        held.remove(e.tag());
        if (keyOrder != null && e.laneKey() != null) {
            keyOrder.settled(e, head);
        }
    }

    /** Key ordering: a failed keyed entry is handled again in place, keeping its key's turn, until the last attempt. */
    @Override
    public Duration inPlaceRetry(Settled<RedisEntry> s) {
        RedisEntry e = s.record();
        if (keyOrder == null || e.laneKey() == null || !(s.outcome() instanceof Outcome.Failed failed)
                || e.attempt() >= maxDeliveries) {
            return null;
        }
        Duration delay = failed.redeliveryDelay();
        e.redeliverInPlace(context.config().clock().millis() + Math.max(0, delay.toMillis()));
        return delay;
    }

    // ---------------------------------------------------------------- leases

    @Override
    public boolean extendsLeases() {
        return true;
    }

    @Override
    public boolean[] extendLeases(List<Fetched<RedisEntry>> records, long until) throws Exception {
        List<RedisEntry> entries = new ArrayList<>(records.size());
        for (Fetched<RedisEntry> f : records) {
            entries.add(f.record());
        }
        boolean[] extended = extend(entries);
        for (int i = 0; i < extended.length; i++) {
            if (extended[i]) {
                entries.get(i).leasedUntil(until);
            } else {
                lost(entries.get(i));
            }
        }
        if (keyOrder != null) {
            keyOrder.renewIfDue();
        }
        return extended;
    }

    /** Resets the idle time of {@code entries} that are still this consumer's; per entry, whether it was. */
    @SuppressWarnings("unchecked")
    boolean[] extend(List<RedisEntry> entries) throws Exception {
        boolean[] extended = new boolean[entries.size()];
        for (int from = 0; from < entries.size(); from += EXTEND_BATCH) {
            int to = Math.min(entries.size(), from + EXTEND_BATCH);
            byte[][] args = new byte[2 + to - from][];
            args[0] = streams.group;
            args[1] = streams.consumerNameBytes;
            for (int i = from; i < to; i++) {
                args[2 + i - from] = EntryCodec.bytes(entries.get(i).tag());
            }
            List<Object> reply = streams.await(Scripts.EXTEND.<List<Object>>run(context.control(), ScriptOutputType.MULTI,
                    new byte[][] {streams.stream, streams.retryStream}, args));
            for (int i = from; i < to; i++) {
                extended[i] = i - from < reply.size() && Long.valueOf(1).equals(reply.get(i - from));
            }
        }
        return extended;
    }

    /** {@code e} is no longer this consumer's (another took it after its lease expired). */
    void lost(RedisEntry e) {
        log.debug("entry {} of topic '{}' for group '{}' is no longer held by this consumer", e.entryId(),
                streams.options.topic(), streams.options.group());
        held.remove(e.tag());
        if (keyOrder != null && e.laneKey() != null) {
            keyOrder.lost(e);
        }
    }

    // ---------------------------------------------------------------- closing

    /** Ends a blocked read at once when closing (its connection is closed); with key ordering, ends a wait for turns. */
    @Override
    public void wakeUp() {
        SourceContext<RedisEntry> e = engine;
        StatefulRedisConnection<byte[], byte[]> r = reader;
        if (e != null && !e.running() && r != null) {
            closeReader();
        }
        if (keyOrder != null) {
            keyOrder.wakeUp();
        }
    }

    /**
     * Gives entries fetched but never handled back to the group at once: marked idle for a year (so
     * the next reclaim by any consumer takes them), with their delivery count set back so that the
     * fetch does not count as an attempt. A keyed entry waiting for its in-place redelivery is marked
     * idle so that a reclaim finds it when that redelivery is due (see {@link KeyOrder#idleOnRelease}).
     */
    @Override
    public void release(List<Fetched<RedisEntry>> unhandled) throws Exception {
        Map<String, GiveBack> giveBack = new LinkedHashMap<>();
        for (Fetched<RedisEntry> f : unhandled) {
            RedisEntry e = f.record();
            held.remove(e.tag());
            Duration idle = keyOrder != null ? keyOrder.idleOnRelease(e) : RELEASED_IDLE;
            giveBack.put(e.tag(), new GiveBack(e.deliveriesBeforeThisAttempt(), idle));
        }
        giveBack(giveBack);
    }

    /** XCLAIMs each tagged entry to this consumer with the given idle time and delivery count. */
    void giveBack(Map<String, GiveBack> byTag) throws Exception {
        if (byTag.isEmpty()) {
            return;
        }
        List<CompletableFuture<?>> claims = new ArrayList<>();
        byTag.forEach((tag, g) -> {
            XClaimArgs args = XClaimArgs.Builder.minIdleTime(0).idle(g.idle()).retryCount(g.deliveries()).justid();
            claims.add(context.control().xclaim(tag.startsWith("r:") ? streams.retryStream : streams.stream,
                    streams.consumer, args, tag.substring(2)).toCompletableFuture());
        });
        CompletableFuture.allOf(claims.toArray(new CompletableFuture<?>[0]))
                .get(context.config().commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
        released.addAll(byTag.keySet());
        log.debug("released {} entries of topic '{}' to group '{}'", byTag.size(), streams.options.topic(),
                streams.options.group());
    }

    /**
     * Waits for settlements still in flight; with key ordering gives back the entries waiting for
     * their turn; then gives back this consumer's pending entries that no handler holds (a read whose
     * reply was lost when the read was cut short by close) with their delivery count; closes the
     * reader's connection.
     */
    @Override
    public void close() {
        try {
            settler.awaitConfirmed(Duration.ofMillis(Math.max(2_000, context.config().commandTimeout().toMillis())));
            if (engine != null && reader != null) {
                disconnectReader();
                if (keyOrder != null) {
                    giveBack(keyOrder.releaseWaiting());
                }
                Map<String, GiveBack> orphans = new LinkedHashMap<>();
                Set<String> skip = new HashSet<>(held);
                skip.addAll(released);
                for (byte[] key : new byte[][] {streams.stream, streams.retryStream}) {
                    for (PendingMessage p : streams.ownPending(key)) {
                        String tag = RedisEntry.tag(key == streams.retryStream, p.getId());
                        if (!skip.contains(tag)) {
                            orphans.put(tag, new GiveBack(p.getRedeliveryCount(), RELEASED_IDLE));
                        }
                    }
                }
                giveBack(orphans);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.warn("could not release the entries of topic '{}' this consumer holds; they are redelivered after the"
                    + " lease: {}", streams.options.topic(), e.toString());
        } finally {
            if (registered) {
                context.mover().unregister(streams.delayed);
                context.mover().unregister(streams.retryDue);
            }
            closeReader();
        }
    }

    /**
     * Makes sure Redis no longer serves the reader's blocked read before this consumer's pending
     * entries are looked up: an entry published meanwhile would otherwise go to a read whose reply
     * nobody receives, after the look-up.
     */
    private void disconnectReader() throws InterruptedException {
        closeReader();
        long id = readerId;
        if (id >= 0) {
            try {
                streams.await(context.control().clientKill(KillArgs.Builder.id(id)).toCompletableFuture());
            } catch (ExecutionException | TimeoutException e) {
                log.debug("{}/{}: the reader's connection is gone already: {}", streams.options.topic(),
                        streams.options.group(), e.toString());
            }
        }
    }

    /** Closes the reader's connection once (a second close would log a warning). */
    private void closeReader() {
        StatefulRedisConnection<byte[], byte[]> r = reader;
        if (r != null && readerClosed.compareAndSet(false, true)) {
            r.closeAsync();
        }
    }
}
