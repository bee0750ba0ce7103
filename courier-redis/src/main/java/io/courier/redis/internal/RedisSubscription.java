package io.courier.redis.internal;

import io.courier.CourierException;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Message;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.BasicDelivery;
import io.courier.spi.ConsumerThreads;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XAutoClaimArgs;
import io.lettuce.core.XClaimArgs;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XPendingArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.models.stream.ClaimedMessages;
import io.lettuce.core.models.stream.PendingMessage;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumer of one group on one topic.
 *
 * <p>A reader thread, on a connection of its own, reads new entries of the topic stream and of the
 * group's retry stream with {@code XREADGROUP ... BLOCK}, never more than the free in-flight slots;
 * every {@link io.courier.redis.RedisConfig#claimInterval() claim interval} it also reclaims entries
 * of the group idle longer than the lease ({@code XAUTOCLAIM}), honouring each entry's delivery count
 * (from {@code XPENDING}): past the maximum the entry goes to the dead-letter stream instead of the
 * handler. {@code concurrency} worker threads run the handler and settle: acknowledge (batched
 * {@code XACK}), or reschedule a retry for this group only, or dead-letter, the last two in one
 * atomic script each.
 *
 * <p>With key ordering ({@link io.courier.redis.RedisConfig#keyOrdering()}) the read is a script that
 * also appends each keyed entry to its key's list, a keyed entry waits in its key's {@link Lane}
 * until it is the head of that list, settling removes it from the list, and a key-waiter thread
 * polls the heads of waited-on keys, takes over heads whose holder's lease expired, runs in-place
 * redeliveries after handler failures and renews the lease of waiting entries. Without it none of
 * this runs and the read is the plain blocking {@code XREADGROUP}.
 */
public final class RedisSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(RedisSubscription.class);
    /** Idle time given to entries released on close, so that any lease considers them expired. */
    private static final Duration RELEASED_IDLE = Duration.ofDays(365);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** Key ordering: shortest and longest pause between two looks at the heads of the keys a consumer waits on. */
    private static final long KEY_POLL_MIN_MILLIS = 2;
    private static final long KEY_POLL_MAX_MILLIS = 50;
    /** Key ordering: key lists or entries per script call of the key waiter. */
    private static final int KEY_BATCH = 100;

    /**
     * An entry fetched for this consumer, with how often the group has delivered it. The reader only
     * fetches; the worker that takes the entry decodes it ({@link #decode()}), so decoding runs in
     * parallel and the next read goes out sooner.
     */
    private static final class Fetched {
        final boolean retry;
        final String entryId;
        final String tag;
        final long deliveries;
        private Map<byte[], byte[]> body;
        private EntryCodec.Decoded decoded;
        /** Whether the entry took an in-flight slot (entries claimed under key ordering may not). */
        boolean holdsSlot = true;
        /** Key ordering: the lane of the entry's message key, or null (not key-ordered, or no key). */
        String laneKey;
        /** Key ordering: the Redis list of the entry's message key. */
        byte[] keyList;
        /** Key ordering: the handler runs (or ran and the outcome is being settled); not renewed. */
        volatile boolean handling;
        /** Key ordering: the handler ran at least once for this delivery (it waits for an in-place redelivery). */
        boolean started;

        Fetched(boolean retry, String entryId, Map<byte[], byte[]> body, long deliveries) {
            this.retry = retry;
            this.entryId = entryId;
            this.tag = tag(retry, entryId);
            this.body = body;
            this.deliveries = deliveries;
        }

        static String tag(boolean retry, String entryId) {
            return (retry ? "r:" : "m:") + entryId;
        }

        /** Decodes the entry (once); throws what {@link EntryCodec#decode} throws for a malformed entry. */
        EntryCodec.Decoded decode() {
            if (decoded == null) {
                decoded = EntryCodec.decode(entryId, body);
                body = null;
            }
            return decoded;
        }

        /** For an entry that cannot be decoded: a message holding only the entry id. */
        EntryCodec.Decoded undecodable() {
            decoded = new EntryCodec.Decoded(Message.builder().id(entryId).payload(new byte[0]).build(), 1, java.util.Optional.empty());
            body = null;
            return decoded;
        }

        EntryCodec.Decoded decoded() {
            return decoded;
        }

        /** The same entry, delivered again in place (key ordering) with {@code body} and {@code deliveries}. */
        Fetched redelivered(Map<byte[], byte[]> newBody, long newDeliveries) {
            Fetched f = new Fetched(retry, entryId, newBody, newDeliveries);
            f.holdsSlot = holdsSlot;
            f.laneKey = laneKey;
            f.keyList = keyList;
            f.started = true;
            return f;
        }

        int attempt() {
            return (int) Math.min(Integer.MAX_VALUE, decoded.firstAttempt() + deliveries - 1);
        }
    }

    private final RedisContext context;
    private final SubscriptionOptions options;
    private final Handler handler;
    private final java.util.function.Consumer<RedisSubscription> onClosed;
    private final String consumerName;
    private final Consumer<byte[]> consumer;
    private final byte[] group;
    private final byte[] stream;
    private final byte[] retryStream;
    private final byte[] retryDue;
    private final byte[] delayed;
    private final String deadLetterTopic;
    private final int maxDeliveries;
    private final Semaphore slots;
    private final LinkedBlockingQueue<Fetched> ready = new LinkedBlockingQueue<>();
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final AtomicInteger settling = new AtomicInteger();
    /** Entries acknowledged whose slots are not given back yet (see {@link #releaseAcked()}). */
    private final AtomicInteger acked = new AtomicInteger();
    private final Object settled = new Object();
    private final AckBatcher mainAcks;
    private final AckBatcher retryAcks;
    private final CountDownLatch stopSignal = new CountDownLatch(1);
    private final String[] claimCursor = {"0-0", "0-0"};
    private final Thread reader;
    private final List<Thread> workers = new ArrayList<>();
    /** Key ordering (see {@link io.courier.redis.RedisConfig#keyOrdering()}); the fields below are used only with it. */
    private final boolean keyOrdered;
    private final byte[] consumerNameBytes;
    private final byte[] keyListPrefix;
    private final KeyedAckBatcher keyedAcks;
    /** Lanes of the message keys this consumer holds entries of, by key; guarded by itself. */
    private final Map<String, Lane> lanes = new HashMap<>();
    private final ConcurrentLinkedQueue<Redelivery> redeliveries = new ConcurrentLinkedQueue<>();
    private final Object keySignal = new Object();
    private boolean keyKicked;
    private final Thread keyWaiter;
    private long lastKeyWarnAt = System.nanoTime() - WARN_EVERY_NANOS;
    private volatile boolean running = true;
    private volatile boolean forcedStop;
    private volatile StatefulRedisConnection<byte[], byte[]> readerConnection;
    private boolean closed;
    private long lastWarnAt = System.nanoTime() - WARN_EVERY_NANOS;

    /** Creates the groups (idempotently) and starts consuming; see {@link io.courier.Subscriber#subscribe}. */
    public RedisSubscription(RedisContext context, SubscriptionOptions options, Handler handler,
                             java.util.function.Consumer<RedisSubscription> onClosed) {
        this.context = context;
        this.options = options;
        this.handler = handler;
        this.onClosed = onClosed;
        this.consumerName = options.consumerName().orElseGet(RedisSubscription::uniqueConsumerName);
        this.group = EntryCodec.bytes(options.group());
        this.consumer = Consumer.from(group, EntryCodec.bytes(consumerName));
        Keys keys = context.keys();
        this.stream = keys.stream(options.topic());
        this.retryStream = keys.retryStream(options.topic(), options.group());
        this.retryDue = keys.retryDue(options.topic(), options.group());
        this.delayed = keys.delayed(options.topic());
        this.deadLetterTopic = Keys.deadLetterTopic(options.topic());
        this.maxDeliveries = context.config().maxDeliveries();
        this.slots = new Semaphore(options.maxInFlight());
        this.mainAcks = new AckBatcher(context.control(), stream, group, false, this::releaseAcked);
        this.retryAcks = new AckBatcher(context.control(), retryStream, group, true, this::releaseAcked);
        this.keyOrdered = context.config().keyOrdering();
        this.consumerNameBytes = EntryCodec.bytes(consumerName);
        this.keyListPrefix = keys.keyListPrefix(options.topic(), options.group());
        this.keyedAcks = keyOrdered ? new KeyedAckBatcher(context.control(), stream, retryStream, group, this::releaseAcked) : null;

        createGroups(options.startPosition() == StartPosition.LATEST ? "$" : "0");
        this.readerConnection = context.openReader();
        context.mover().register(delayed, stream, options.topic());
        context.mover().register(retryDue, retryStream, null);

        String name = "courier-redis-" + options.topic() + "-" + options.group();
        this.reader = ConsumerThreads.factory(name + "-reader", false).newThread(this::readLoop);
        ThreadFactory workerThreads = ConsumerThreads.factory(name);
        for (int i = 0; i < options.concurrency(); i++) {
            workers.add(workerThreads.newThread(this::workLoop));
        }
        this.keyWaiter = keyOrdered ? ConsumerThreads.factory(name + "-keys", false).newThread(this::keyLoop) : null;
        workers.forEach(Thread::start);
        if (keyWaiter != null) {
            keyWaiter.start();
        }
        reader.start();
    }

    /** The consumer name this subscription reads under. */
    public String consumerName() {
        return consumerName;
    }

    /** host-pid-random: unique per subscription, readable in {@code XINFO CONSUMERS}. */
    static String uniqueConsumerName() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "host";
        }
        host = host.replaceAll("[^A-Za-z0-9._-]", "_");
        String pid = ManagementFactory.getRuntimeMXBean().getName().split("@")[0];
        return host + "-" + pid + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    }

    // ---------------------------------------------------------------- groups

    private void createGroups(String mainOffset) {
        createGroup(stream, mainOffset);
        createGroup(retryStream, "0");
    }

    private void createGroup(byte[] key, String offset) {
        try {
            await(context.control().xgroupCreate(XReadArgs.StreamOffset.from(key, offset), group,
                    new XGroupCreateArgs().mkstream(true)).toCompletableFuture());
        } catch (Exception e) {
            // Redis answers "BUSYGROUP <text>" when the group exists: compare the error code, not the text.
            if (!"BUSYGROUP".equals(errorCode(e))) {
                throw new CourierException("cannot create consumer group '" + options.group() + "' on "
                        + EntryCodec.text(key) + ": " + rootMessage(e), e);
            }
        }
    }

    /** The error code of a Redis error reply: its first word, e.g. {@code BUSYGROUP}, {@code NOGROUP}. */
    static String errorCode(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RedisException && t.getMessage() != null) {
                String m = t.getMessage().trim();
                int space = m.indexOf(' ');
                return space < 0 ? m : m.substring(0, space);
            }
        }
        return "";
    }

    // ---------------------------------------------------------------- reading

    private void readLoop() {
        int failures = 0;
        long nextClaimAt = System.nanoTime();
        long nextCleanupAt = System.nanoTime();
        long claimEvery = context.config().claimInterval().toNanos();
        long cleanupEvery = Math.max(claimEvery,
                Math.min(context.config().idleConsumerRemoval().toNanos(), TimeUnit.MINUTES.toNanos(10)));
        boolean recovered = options.consumerName().isEmpty();   // a generated name owns nothing yet
        while (running) {
            try {
                if (!recovered) {
                    recoverOwnPending();
                    recovered = true;
                }
                long now = System.nanoTime();
                if (now - nextCleanupAt >= 0) {
                    removeIdleConsumers();
                    nextCleanupAt = now + cleanupEvery;
                }
                if (now - nextClaimAt >= 0) {
                    reclaim();
                    nextClaimAt = System.nanoTime() + claimEvery;
                }
                int free = awaitFreeSlots();
                if (free > 0 && running && keyOrdered) {
                    readKeyed(Math.min(free, context.config().readBatchSize()));
                } else if (free > 0 && running) {
                    List<StreamMessage<byte[], byte[]>> entries = readerConnection.sync().xreadgroup(consumer,
                            XReadArgs.Builder.block(context.config().blockTimeout()).count(Math.min(free, context.config().readBatchSize())),
                            XReadArgs.StreamOffset.lastConsumed(stream), XReadArgs.StreamOffset.lastConsumed(retryStream));
                    for (StreamMessage<byte[], byte[]> e : entries) {
                        dispatch(e, 1, Arrays.equals(e.getStream(), retryStream));
                    }
                }
                failures = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException | ExecutionException | TimeoutException failure) {
                if (!running) {
                    return;
                }
                Exception e = failure;
                if ("NOGROUP".equals(errorCode(e))) {
                    // The stream or the group was deleted (or Redis lost its data): recreate both, reading
                    // from the start of what exists now so nothing published from here on is missed.
                    log.warn("group '{}' of topic '{}' vanished; recreating it", options.group(), options.topic());
                    try {
                        createGroups("0");
                        continue;
                    } catch (RuntimeException again) {
                        e = again;
                    }
                }
                failures++;
                warnRateLimited("reading topic '" + options.topic() + "' for group '" + options.group() + "' failed ("
                        + failures + " in a row), retrying: " + rootMessage(e));
                try {
                    stopSignal.await(Math.min(2000, 50L << Math.min(failures, 6)), TimeUnit.MILLISECONDS);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** Waits up to the block timeout for one free in-flight slot; returns the free slots (0 if none came). */
    private int awaitFreeSlots() throws InterruptedException {
        if (!slots.tryAcquire(context.config().blockTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
            return 0;
        }
        slots.release();
        return slots.availablePermits();
    }

    /** After a restart under a stable name: take up this consumer's own pending entries at once. */
    private void recoverOwnPending() throws InterruptedException, ExecutionException, TimeoutException {
        for (byte[] key : new byte[][] {stream, retryStream}) {
            String from = "0";
            while (running) {
                List<StreamMessage<byte[], byte[]>> entries = readerConnection.sync().xreadgroup(consumer,
                        XReadArgs.Builder.count(context.config().readBatchSize()), XReadArgs.StreamOffset.from(key, from));
                if (entries.isEmpty()) {
                    break;
                }
                Map<String, Long> counts = deliveryCounts(key, entries);
                for (StreamMessage<byte[], byte[]> e : entries) {
                    dispatch(e, counts.getOrDefault(e.getId(), 1L), key == retryStream);
                }
                from = entries.get(entries.size() - 1).getId();
            }
        }
    }

    /** Claims entries of the group idle longer than the lease (their consumer died or hung). */
    private void reclaim() throws InterruptedException, ExecutionException, TimeoutException {
        byte[][] keys = {stream, retryStream};
        for (int i = 0; i < keys.length && running; i++) {
            int free = slots.availablePermits();
            if (free == 0) {
                return;
            }
            ClaimedMessages<byte[], byte[]> claimed = await(context.control().xautoclaim(keys[i],
                    XAutoClaimArgs.Builder.xautoclaim(consumer, options.leaseTimeout(), claimCursor[i])
                            .count(Math.min(free, context.config().claimBatchSize()))).toCompletableFuture());
            claimCursor[i] = claimed.getId();
            List<StreamMessage<byte[], byte[]>> entries = claimed.getMessages();
            if (entries.isEmpty()) {
                continue;
            }
            Map<String, Long> counts = deliveryCounts(keys[i], entries);
            log.info("reclaimed {} entries of topic '{}' idle longer than {} for group '{}'", entries.size(),
                    options.topic(), options.leaseTimeout(), options.group());
            for (StreamMessage<byte[], byte[]> e : entries) {
                dispatch(e, counts.getOrDefault(e.getId(), 2L), keys[i] == retryStream);
            }
        }
    }

    /** Delivery counts of {@code entries} (all owned by this consumer) from {@code XPENDING}'s extended form. */
    private Map<String, Long> deliveryCounts(byte[] key, List<StreamMessage<byte[], byte[]>> entries)
            throws InterruptedException, ExecutionException, TimeoutException {
        String first = entries.get(0).getId();
        String last = entries.get(entries.size() - 1).getId();
        long limit = entries.size() + (long) options.maxInFlight() + 16;
        List<PendingMessage> pending = await(context.control().xpending(key,
                XPendingArgs.Builder.xpending(consumer, Range.create(first, last), Limit.from(limit))).toCompletableFuture());
        Map<String, Long> counts = new HashMap<>();
        for (PendingMessage p : pending) {
            counts.put(p.getId(), p.getRedeliveryCount());
        }
        return counts;
    }

    private void removeIdleConsumers() {
        for (byte[] key : new byte[][] {stream, retryStream}) {
            try {
                Long removed = await(Scripts.REMOVE_IDLE_CONSUMERS.<Long>run(context.control(), ScriptOutputType.INTEGER,
                        new byte[][] {key}, group,
                        EntryCodec.bytes(Long.toString(context.config().idleConsumerRemoval().toMillis())),
                        EntryCodec.bytes(consumerName)));
                if (removed != null && removed > 0) {
                    log.info("removed {} idle consumer(s) owning no pending entry from group '{}' of {}", removed,
                            options.group(), EntryCodec.text(key));
                }
            } catch (Exception e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                    return;
                }
                log.debug("removing idle consumers of {} failed: {}", EntryCodec.text(key), e.toString());
            }
        }
    }

    /** Hands one fetched entry to the workers, which decode it (and dead-letter it when it was delivered too often). */
    private void dispatch(StreamMessage<byte[], byte[]> entry, long deliveries, boolean retry) throws InterruptedException {
        dispatch(entry.getId(), entry.getBody(), deliveries, retry, false);
    }

    /**
     * Hands one fetched entry to the workers; under key ordering a keyed entry goes to its key's lane
     * instead, and to the workers only once it is the head of its key ({@code head}: known to be).
     */
    private void dispatch(String id, Map<byte[], byte[]> body, long deliveries, boolean retry, boolean head)
            throws InterruptedException {
        if (body == null || body.isEmpty()) {
            // Deleted (trimmed) while pending: nothing left to deliver.
            settling.incrementAndGet();
            acks(retry).ack(id, this::settledOne);
            return;
        }
        Fetched f = new Fetched(retry, id, body, deliveries);
        if (inFlight.contains(f.tag)) {
            return;   // this consumer is still handling it (a handler slower than the lease)
        }
        byte[] rawKey = keyOrdered ? EntryCodec.rawKey(body) : null;
        while (!slots.tryAcquire(POLL.toMillis(), TimeUnit.MILLISECONDS)) {
            if (!running) {
                f.holdsSlot = false;
                if (rawKey == null) {
                    ready.add(f);   // released by close()
                } else {
                    inFlight.add(f.tag);
                    enqueueKeyed(f, rawKey, false);
                }
                return;
            }
        }
        inFlight.add(f.tag);
        if (rawKey == null) {
            ready.add(f);
        } else {
            enqueueKeyed(f, rawKey, head);
        }
    }

    // ---------------------------------------------------------------- handling

    private void workLoop() {
        while (running) {
            Fetched f;
            try {
                f = ready.poll(POLL.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (f == null) {
                continue;
            }
            if (!running) {
                ready.add(f);   // not started: close() releases it to the group
                return;
            }
            if (f.keyList != null) {
                f.handling = true;
            }
            EntryCodec.Decoded decoded;
            try {
                decoded = f.decode();
            } catch (RuntimeException e) {
                deadLetter(f, f.undecodable().message(), "undecodable", e);
                continue;
            }
            if (f.attempt() > maxDeliveries) {
                deadLetter(f, decoded.message(), "max-deliveries", null);
                continue;
            }
            if (f.keyList != null) {
                f.started = true;
            }
            BasicDelivery delivery = new BasicDelivery(decoded.message(), options.topic(), options.group(), f.attempt());
            Outcome outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
            if (forcedStop && outcome instanceof Outcome.Failed) {
                return;   // interrupted by close(): leave it pending, it is redelivered after the lease
            }
            settle(f, outcome);
        }
    }

    private void settle(Fetched f, Outcome outcome) {
        Message message = f.decoded().message();
        if (outcome instanceof Outcome.Ack) {
            settling.incrementAndGet();
            if (f.keyList != null) {
                keyedAcks.ack(f.tag, f.keyList, head -> {
                    inFlight.remove(f.tag);
                    laneSettled(f, head);
                    if (f.holdsSlot) {
                        acked.incrementAndGet();
                    } else {
                        markSettled(1);
                    }
                });
            } else {
                acks(f.retry).ack(f.entryId, () -> ackedOne(f));
            }
        } else if (outcome instanceof Outcome.Retry r) {
            if (f.attempt() >= maxDeliveries) {
                deadLetter(f, message, "max-deliveries", null);
            } else {
                reschedule(f, r.apply(message), r.delay(), f.decoded().firstFailure().orElse(null));
            }
        } else if (outcome instanceof Outcome.Failed failed) {
            if (f.attempt() >= maxDeliveries) {
                deadLetter(f, message, "max-deliveries", failed.error());
            } else if (f.keyList != null) {
                redeliverInPlace(f, failed.redeliveryDelay());
            } else {
                Instant firstFailure = f.decoded().firstFailure().orElseGet(() -> context.config().clock().instant());
                reschedule(f, message, failed.redeliveryDelay(), firstFailure);
            }
        }
    }

    private AckBatcher acks(boolean retry) {
        return retry ? retryAcks : mainAcks;
    }

    /** Schedules the message for this group again after {@code delay} and acks the entry, atomically. */
    private void reschedule(Fetched f, Message message, Duration delay, Instant firstFailure) {
        long due = context.config().clock().millis() + Math.max(0, delay.toMillis());
        byte[] member = EntryCodec.member(EntryCodec.encode(message, f.attempt() + 1, firstFailure));
        settling.incrementAndGet();
        CompletableFuture<Object> settled;
        if (f.keyList != null) {
            settled = Scripts.RESCHEDULE_KEYED.run(context.control(), ScriptOutputType.MULTI,
                    new byte[][] {f.retry ? retryStream : stream, retryDue, f.keyList},
                    group, EntryCodec.bytes(f.entryId), EntryCodec.bytes(f.retry ? "1" : "0"),
                    EntryCodec.bytes(Long.toString(due)), member, EntryCodec.bytes(f.tag));
        } else {
            settled = Scripts.RESCHEDULE.run(context.control(), ScriptOutputType.INTEGER,
                    new byte[][] {f.retry ? retryStream : stream, retryDue},
                    group, EntryCodec.bytes(f.entryId), EntryCodec.bytes(f.retry ? "1" : "0"),
                    EntryCodec.bytes(Long.toString(due)), member);
        }
        settled.whenComplete((done, e) -> {
            if (e != null) {
                log.warn("could not schedule a retry of entry {} of topic '{}' for group '{}'; it stays pending"
                        + " and is redelivered after its lease: {}", f.entryId, options.topic(), options.group(), e.toString());
            } else {
                context.mover().wakeAt(due);
            }
            finished(f, newHead(done));
        });
    }

    /** Copies the entry to {@code <topic>.dlq} with the reason in {@link Headers} and acks it, atomically. */
    private void deadLetter(Fetched f, Message message, String reason, Throwable error) {
        Instant now = context.config().clock().instant();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(Headers.ORIGINAL_TOPIC, options.topic());
        headers.put(Headers.ATTEMPTS, Integer.toString(Math.min(f.attempt(), maxDeliveries)));
        headers.put(Headers.DEAD_LETTER_REASON, reason);
        headers.put(Headers.DEAD_LETTER_GROUP, options.group());
        f.decoded().firstFailure().ifPresent(t -> headers.put(Headers.FIRST_FAILURE_AT, t.toString()));
        headers.put(Headers.LAST_FAILURE_AT, now.toString());
        if (error != null) {
            headers.putIfAbsent(Headers.FIRST_FAILURE_AT, now.toString());
            headers.put(Headers.EXCEPTION_CLASS, error.getClass().getName());
            String text = String.valueOf(error.getMessage());
            headers.put(Headers.EXCEPTION_MESSAGE, text.length() > 1000 ? text.substring(0, 1000) : text);
        }
        List<byte[]> fields = EntryCodec.encode(message.withHeaders(headers), 1, null);
        byte[][] trim = context.trimArgs(deadLetterTopic);
        List<byte[]> args = new ArrayList<>(7 + fields.size());
        args.add(group);
        args.add(EntryCodec.bytes(f.entryId));
        args.add(EntryCodec.bytes(f.retry ? "1" : "0"));
        args.addAll(Arrays.asList(trim));
        if (f.keyList != null) {
            args.add(EntryCodec.bytes(f.tag));
        }
        args.addAll(fields);
        settling.incrementAndGet();
        byte[] source = f.retry ? retryStream : stream;
        byte[] deadLetters = context.keys().stream(deadLetterTopic);
        CompletableFuture<Object> settled = f.keyList != null
                ? Scripts.DEAD_LETTER_KEYED.run(context.control(), ScriptOutputType.MULTI,
                        new byte[][] {source, deadLetters, f.keyList}, args.toArray(new byte[0][]))
                : Scripts.DEAD_LETTER.run(context.control(), ScriptOutputType.INTEGER,
                        new byte[][] {source, deadLetters}, args.toArray(new byte[0][]));
        settled.whenComplete((reply, e) -> {
            Long moved = reply instanceof List<?> l ? (Long) l.get(0) : (Long) reply;
            if (e != null) {
                log.warn("could not dead-letter entry {} of topic '{}' for group '{}'; it stays pending: {}",
                        f.entryId, options.topic(), options.group(), e.toString());
            } else if (moved != null && moved == 1) {
                log.warn("dead-lettered message {} (entry {}) of topic '{}' for group '{}' to '{}' after {} attempts: {}",
                        message.id(), f.entryId, options.topic(), options.group(), deadLetterTopic,
                        headers.get(Headers.ATTEMPTS), reason);
            }
            finished(f, newHead(reply));
        });
    }

    /** The new head of the key list in a keyed settle script's reply {@code {done, head}}, or null. */
    private static String newHead(Object reply) {
        if (reply instanceof List<?> l && l.size() > 1 && l.get(1) instanceof byte[] b && b.length > 0) {
            return EntryCodec.text(b);
        }
        return null;
    }

    /** A settled entry ({@code head}: its key's new head under key ordering, when known). */
    private void finished(Fetched f, String head) {
        inFlight.remove(f.tag);
        if (f.keyList != null) {
            laneSettled(f, head);
        }
        if (f.holdsSlot) {
            slots.release();
        }
        markSettled(1);
    }

    /** An acknowledged entry: its slot is given back with the others of its XACK, by {@link #releaseAcked()}. */
    private void ackedOne(Fetched f) {
        inFlight.remove(f.tag);
        acked.incrementAndGet();
    }

    /** After each XACK: gives back the slots of every entry acknowledged so far, at once. */
    private void releaseAcked() {
        int n = acked.getAndSet(0);
        if (n > 0) {
            slots.release(n);
            markSettled(n);
        }
    }

    private void settledOne() {
        markSettled(1);
    }

    private void markSettled(int n) {
        if (settling.addAndGet(-n) <= 0) {
            synchronized (settled) {
                settled.notifyAll();
            }
        }
    }

    // ---------------------------------------------------------------- key ordering

    /**
     * The entries this consumer holds of one message key, under key ordering. At most one of them is
     * {@code running} (handed to the workers); the others wait until they are the head of the key's
     * list in Redis. Guarded by {@link #lanes}.
     */
    private static final class Lane {
        final Map<String, Fetched> held = new HashMap<>();
        Fetched running;
    }

    /** An entry whose handler failed, to be delivered again in place at {@code dueNanos}. */
    private record Redelivery(long dueNanos, Fetched entry) {
    }

    /**
     * Reads with the {@link Scripts#READ_KEYED} script, which records each keyed entry in its key's
     * list atomically with the read. A script cannot block, so when nothing was read the reader blocks
     * on a plain {@code XREAD} after the last entry ids instead: a doorbell that rings as soon as an
     * entry is added (and is ended at once by close(), which closes the connection).
     */
    @SuppressWarnings("unchecked")
    private void readKeyed(int count) throws InterruptedException, ExecutionException, TimeoutException {
        List<Object> reply = await(Scripts.READ_KEYED.<List<Object>>run(readerConnection.async(), ScriptOutputType.MULTI,
                new byte[][] {stream, retryStream}, group, consumerNameBytes, EntryCodec.bytes(Integer.toString(count)),
                keyListPrefix));
        if (reply.size() <= 2) {
            if (running) {
                readerConnection.sync().xread(XReadArgs.Builder.block(context.config().blockTimeout()).count(1),
                        XReadArgs.StreamOffset.from(stream, EntryCodec.text((byte[]) reply.get(0))),
                        XReadArgs.StreamOffset.from(retryStream, EntryCodec.text((byte[]) reply.get(1))));
            }
            return;
        }
        for (int i = 2; i + 3 < reply.size(); i += 4) {
            boolean retry = "r".equals(EntryCodec.text((byte[]) reply.get(i)));
            String id = EntryCodec.text((byte[]) reply.get(i + 1));
            boolean head = ((Long) reply.get(i + 2)) == 1L;
            dispatch(id, fieldMap((List<Object>) reply.get(i + 3)), 1, retry, head);
        }
    }

    private static Map<byte[], byte[]> fieldMap(List<Object> fields) {
        Map<byte[], byte[]> body = new LinkedHashMap<>();
        for (int j = 0; j + 1 < fields.size(); j += 2) {
            body.put((byte[]) fields.get(j), (byte[]) fields.get(j + 1));
        }
        return body;
    }

    /** Puts a keyed entry in its lane; starts it when the lane is idle and the entry is the key's head. */
    private void enqueueKeyed(Fetched f, byte[] rawKey, boolean head) {
        byte[] list = Arrays.copyOf(keyListPrefix, keyListPrefix.length + rawKey.length);
        System.arraycopy(rawKey, 0, list, keyListPrefix.length, rawKey.length);
        f.keyList = list;
        f.laneKey = new String(rawKey, StandardCharsets.ISO_8859_1);
        boolean start = false;
        boolean wait = false;
        synchronized (lanes) {
            Lane lane = lanes.computeIfAbsent(f.laneKey, k -> new Lane());
            lane.held.put(f.tag, f);
            if (lane.running == null && head && running) {
                lane.running = f;
                start = true;
            } else {
                wait = lane.running == null;
            }
        }
        if (start) {
            ready.add(f);
        } else if (wait) {
            kickKeys();
        }
    }

    /**
     * After a keyed entry was settled (or lost): frees its lane and starts the key's next entry at
     * once when this consumer holds it ({@code head}, from the settle script); otherwise the lane
     * waits and the key waiter asks Redis for the head.
     */
    private void laneSettled(Fetched f, String head) {
        Fetched next = null;
        boolean wait = false;
        synchronized (lanes) {
            Lane lane = lanes.get(f.laneKey);
            if (lane == null) {
                return;
            }
            if (lane.held.get(f.tag) == f) {
                lane.held.remove(f.tag);
            }
            if (lane.running == f) {
                lane.running = null;
            }
            if (lane.running == null) {
                next = head == null ? null : lane.held.get(head);
                if (next != null && running) {
                    lane.running = next;
                } else {
                    next = null;
                }
            }
            if (lane.held.isEmpty()) {
                lanes.remove(f.laneKey);
            } else {
                wait = lane.running == null;
            }
        }
        if (next != null) {
            ready.add(next);
        } else if (wait) {
            kickKeys();
        }
    }

    /** A keyed entry whose handler failed keeps its place: the same consumer delivers it again after {@code delay}. */
    private void redeliverInPlace(Fetched f, Duration delay) {
        f.handling = false;
        redeliveries.add(new Redelivery(System.nanoTime() + Math.max(0, delay.toNanos()), f));
        kickKeys();
    }

    private void kickKeys() {
        synchronized (keySignal) {
            keyKicked = true;
            keySignal.notifyAll();
        }
    }

    /**
     * The key waiter: asks Redis for the heads of the keys whose lanes wait (polling, from
     * {@value #KEY_POLL_MIN_MILLIS} ms backing off to {@value #KEY_POLL_MAX_MILLIS} ms while nothing
     * changes), runs the in-place redeliveries when due, and renews the lease of the keyed entries
     * this consumer holds but is not handling, so that waiting never makes them look abandoned.
     * It also takes over the head of a waited-on key whose holder let its lease expire (died), even
     * when this consumer's in-flight slots are all taken by waiting entries.
     */
    private void keyLoop() {
        long minPoll = TimeUnit.MILLISECONDS.toNanos(KEY_POLL_MIN_MILLIS);
        long maxPoll = TimeUnit.MILLISECONDS.toNanos(KEY_POLL_MAX_MILLIS);
        long renewEvery = Math.max(TimeUnit.MILLISECONDS.toNanos(20), options.leaseTimeout().toNanos() / 3);
        long interval = minPoll;
        long nextRenewAt = System.nanoTime() + renewEvery;
        while (running) {
            boolean progress = false;
            try {
                progress |= runDueRedeliveries();
                List<Map.Entry<String, byte[]>> waiting = waitingLanes();
                if (!waiting.isEmpty()) {
                    progress |= pollHeads(waiting);
                }
                if (System.nanoTime() - nextRenewAt >= 0) {
                    renew();
                    nextRenewAt = System.nanoTime() + renewEvery;
                }
                interval = progress ? minPoll : Math.min(maxPoll, interval * 2);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException | ExecutionException | TimeoutException e) {
                if (!running) {
                    return;
                }
                interval = maxPoll;
                long now = System.nanoTime();
                String text = "key ordering on topic '" + options.topic() + "' for group '" + options.group()
                        + "': Redis call failed, retrying: " + rootMessage(e);
                if (now - lastKeyWarnAt >= WARN_EVERY_NANOS) {
                    lastKeyWarnAt = now;
                    log.warn(text);
                } else {
                    log.debug(text);
                }
            }
            long sleep = Math.min(interval, nextRenewAt - System.nanoTime());
            for (Redelivery r : redeliveries) {
                sleep = Math.min(sleep, r.dueNanos() - System.nanoTime());
            }
            try {
                synchronized (keySignal) {
                    if (!keyKicked && sleep > 0) {
                        TimeUnit.NANOSECONDS.timedWait(keySignal, sleep);
                    }
                    if (keyKicked) {
                        interval = minPoll;
                    }
                    keyKicked = false;
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Lanes holding entries of which none runs: key -> key list. */
    private List<Map.Entry<String, byte[]>> waitingLanes() {
        List<Map.Entry<String, byte[]>> waiting = new ArrayList<>();
        synchronized (lanes) {
            for (Map.Entry<String, Lane> e : lanes.entrySet()) {
                Lane lane = e.getValue();
                if (lane.running == null && !lane.held.isEmpty()) {
                    waiting.add(Map.entry(e.getKey(), lane.held.values().iterator().next().keyList));
                }
            }
        }
        return waiting;
    }

    @SuppressWarnings("unchecked")
    private boolean pollHeads(List<Map.Entry<String, byte[]>> waiting)
            throws InterruptedException, ExecutionException, TimeoutException {
        boolean progress = false;
        byte[] lease = EntryCodec.bytes(Long.toString(Math.max(1, options.leaseTimeout().toMillis())));
        for (int from = 0; from < waiting.size() && running; from += KEY_BATCH) {
            List<Map.Entry<String, byte[]>> batch = waiting.subList(from, Math.min(waiting.size(), from + KEY_BATCH));
            byte[][] keys = new byte[2 + batch.size()][];
            keys[0] = stream;
            keys[1] = retryStream;
            for (int i = 0; i < batch.size(); i++) {
                keys[2 + i] = batch.get(i).getValue();
            }
            List<Object> reply = await(Scripts.HEADS.<List<Object>>run(context.control(), ScriptOutputType.MULTI, keys,
                    group, consumerNameBytes, lease));
            for (int i = 0; i < batch.size() && i < reply.size(); i++) {
                List<Object> r = (List<Object>) reply.get(i);
                progress |= onHead(batch.get(i).getKey(), batch.get(i).getValue(), EntryCodec.text((byte[]) r.get(0)),
                        EntryCodec.text((byte[]) r.get(1)), (Long) r.get(2), (List<Object>) r.get(3));
            }
        }
        return progress;
    }

    /** Acts on what Redis said about the head of a key this consumer waits on; true if something changed. */
    private boolean onHead(String laneKey, byte[] keyList, String state, String tag, long deliveries, List<Object> fields)
            throws InterruptedException, ExecutionException, TimeoutException {
        switch (state) {
            case "mine" -> {
                Fetched start = null;
                boolean fetch = false;
                synchronized (lanes) {
                    Lane lane = lanes.get(laneKey);
                    if (lane == null || lane.running != null || !running) {
                        return false;
                    }
                    Fetched f = lane.held.get(tag);
                    if (f != null) {
                        lane.running = f;
                        start = f;
                    } else {
                        fetch = true;
                    }
                }
                if (start != null) {
                    ready.add(start);
                    return true;
                }
                if (fetch) {
                    // Pending for this consumer but not held (a read reply lost to a connection cut): fetch it.
                    String id = tag.substring(2);
                    List<StreamMessage<byte[], byte[]>> found = await(context.control().xrange(
                            tag.startsWith("r:") ? retryStream : stream, Range.create(id, id)).toCompletableFuture());
                    if (!found.isEmpty()) {
                        adopt(laneKey, keyList, tag, deliveries, found.get(0).getBody());
                        return true;
                    }
                }
                return false;
            }
            case "claimed" -> {
                log.info("took over entry {} of topic '{}' for group '{}': the head of its key, idle longer than {}",
                        tag.substring(2), options.topic(), options.group(), options.leaseTimeout());
                adopt(laneKey, keyList, tag, deliveries, fieldMap(fields));
                return true;
            }
            case "other" -> {
                Fetched lost = null;
                synchronized (lanes) {
                    Lane lane = lanes.get(laneKey);
                    if (lane != null && lane.running == null && lane.held.containsKey(tag)) {
                        lost = lane.held.remove(tag);
                        if (lane.held.isEmpty()) {
                            lanes.remove(laneKey);
                        }
                    }
                }
                if (lost != null) {
                    dropLost(lost);
                    return true;
                }
                return false;
            }
            default -> {
                // The key list is empty but this consumer holds entries of the key: they were read before key
                // ordering was turned on (or the list was deleted). Nothing orders them any more: run them
                // one at a time, oldest first.
                Fetched start = null;
                synchronized (lanes) {
                    Lane lane = lanes.get(laneKey);
                    if (lane == null || lane.running != null || lane.held.isEmpty() || !running) {
                        return false;
                    }
                    start = lane.held.values().stream().min((a, b) -> compareIds(a.entryId, b.entryId)).orElseThrow();
                    lane.running = start;
                }
                ready.add(start);
                return true;
            }
        }
    }

    /** Takes an entry this consumer was given by Redis (claimed head, fetched own entry) into its lane, and starts it. */
    private void adopt(String laneKey, byte[] keyList, String tag, long deliveries, Map<byte[], byte[]> body) {
        Fetched f = new Fetched(tag.startsWith("r:"), tag.substring(2), body, deliveries);
        f.laneKey = laneKey;
        f.keyList = keyList;
        Fetched start = null;
        synchronized (lanes) {
            Lane lane = lanes.computeIfAbsent(laneKey, k -> new Lane());
            Fetched old = lane.held.get(tag);
            if (old != null && old == lane.running) {
                return;   // already handling its own copy
            }
            if (old != null) {
                f.holdsSlot = old.holdsSlot;
            } else {
                // Taken even when every slot is in use: the slots may all be held by entries waiting for this one.
                f.holdsSlot = slots.tryAcquire();
                inFlight.add(tag);
            }
            lane.held.put(tag, f);
            if (lane.running == null && running) {
                lane.running = f;
                start = f;
            }
        }
        if (start != null) {
            ready.add(start);
        }
    }

    /** Forgets an entry that is no longer this consumer's (its lease expired and another consumer took it). */
    private void dropLost(Fetched f) {
        log.debug("entry {} of topic '{}' for group '{}' is no longer held by this consumer", f.entryId, options.topic(),
                options.group());
        inFlight.remove(f.tag);
        if (f.holdsSlot) {
            slots.release();
        }
    }

    /** Delivers due in-place redeliveries; true if any ran. */
    @SuppressWarnings("unchecked")
    private boolean runDueRedeliveries() throws InterruptedException, ExecutionException, TimeoutException {
        boolean any = false;
        long now = System.nanoTime();
        for (Iterator<Redelivery> it = redeliveries.iterator(); it.hasNext() && running; ) {
            Redelivery r = it.next();
            if (r.dueNanos() - now > 0) {
                continue;
            }
            Fetched f = r.entry();
            // A failure throws with the redelivery still queued: it is tried again on the next pass.
            List<Object> reply = await(Scripts.REDELIVER.<List<Object>>run(context.control(), ScriptOutputType.MULTI,
                    new byte[][] {f.retry ? retryStream : stream}, group, consumerNameBytes, EntryCodec.bytes(f.entryId)));
            it.remove();
            any = true;
            if (reply.isEmpty()) {
                laneSettled(f, null);
                dropLost(f);
                continue;
            }
            Fetched again = f.redelivered(fieldMap((List<Object>) reply.get(1)), (Long) reply.get(0));
            boolean start = false;
            synchronized (lanes) {
                Lane lane = lanes.get(f.laneKey);
                if (lane != null && lane.held.get(f.tag) == f) {
                    lane.held.put(f.tag, again);
                    if (lane.running == f) {
                        lane.running = again;
                        start = true;
                    }
                }
            }
            if (start) {
                ready.add(again);
            }
        }
        return any;
    }

    /**
     * Renews the lease of the keyed entries this consumer holds but is not handling; forgets those no
     * longer its own, and runs those in no key list (read before key ordering) when their lane is idle.
     */
    @SuppressWarnings("unchecked")
    private void renew() throws InterruptedException, ExecutionException, TimeoutException {
        List<Fetched> idle = new ArrayList<>();
        synchronized (lanes) {
            for (Lane lane : lanes.values()) {
                for (Fetched f : lane.held.values()) {
                    if (!f.handling) {
                        idle.add(f);
                    }
                }
            }
        }
        for (int from = 0; from < idle.size() && running; from += KEY_BATCH) {
            List<Fetched> batch = idle.subList(from, Math.min(idle.size(), from + KEY_BATCH));
            byte[][] keys = new byte[2 + batch.size()][];
            byte[][] args = new byte[2 + batch.size()][];
            keys[0] = stream;
            keys[1] = retryStream;
            args[0] = group;
            args[1] = consumerNameBytes;
            for (int i = 0; i < batch.size(); i++) {
                keys[2 + i] = batch.get(i).keyList;
                args[2 + i] = EntryCodec.bytes(batch.get(i).tag);
            }
            List<Object> reply = await(Scripts.RENEW.<List<Object>>run(context.control(), ScriptOutputType.MULTI, keys, args));
            for (int i = 0; i < batch.size() && i < reply.size(); i++) {
                long state = (Long) reply.get(i);
                Fetched f = batch.get(i);
                if (state == 1) {
                    boolean lost = false;
                    synchronized (lanes) {
                        Lane lane = lanes.get(f.laneKey);
                        if (lane != null && lane.running != f && lane.held.get(f.tag) == f) {
                            lane.held.remove(f.tag);
                            if (lane.held.isEmpty()) {
                                lanes.remove(f.laneKey);
                            }
                            lost = true;
                        }
                    }
                    if (lost) {
                        dropLost(f);
                    }
                } else if (state == 2) {
                    boolean start = false;
                    synchronized (lanes) {
                        Lane lane = lanes.get(f.laneKey);
                        if (lane != null && lane.running == null && lane.held.get(f.tag) == f && running) {
                            lane.running = f;
                            start = true;
                        }
                    }
                    if (start) {
                        ready.add(f);
                    }
                }
            }
        }
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

    // ---------------------------------------------------------------- closing

    @Override
    public SubscriptionOptions options() {
        return options;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public void close(Duration timeout) {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        running = false;
        stopSignal.countDown();
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            // Closing the reader's connection ends a blocked XREADGROUP at once.
            readerConnection.closeAsync();
            join(reader, Math.max(TimeUnit.SECONDS.toNanos(2), deadline - System.nanoTime()));
            if (reader.isAlive()) {
                reader.interrupt();
                join(reader, TimeUnit.SECONDS.toNanos(2));
            }
            for (Thread w : workers) {
                join(w, deadline - System.nanoTime());
            }
            if (workers.stream().anyMatch(Thread::isAlive)) {
                log.warn("subscription {}/{}: handlers still running after {}; interrupting them, their messages stay"
                        + " pending and are redelivered after the lease", options.topic(), options.group(), timeout);
                forcedStop = true;
                workers.forEach(Thread::interrupt);
                for (Thread w : workers) {
                    join(w, TimeUnit.SECONDS.toNanos(2));
                }
            }
            if (keyWaiter != null) {
                kickKeys();
                keyWaiter.interrupt();
                join(keyWaiter, TimeUnit.SECONDS.toNanos(2));
            }
            releaseUnstarted();
            awaitSettled(Math.max(TimeUnit.SECONDS.toNanos(2), deadline - System.nanoTime()));
            if (keyOrdered) {
                releaseUnstarted();   // entries whose turn came while the last settlements completed
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            context.mover().unregister(delayed);
            context.mover().unregister(retryDue);
            onClosed.accept(this);
        }
    }

    /**
     * Entries this consumer holds but will not handle go back to the group at once: marked idle for a
     * year (so the next reclaim by any consumer takes them). Those fetched but never handed to the
     * handler get their delivery count set back, so that fetch does not count as an attempt. Other
     * pending entries of this consumer that no handler holds (a read whose reply was lost when the
     * blocked read was cancelled) keep their count. Entries whose handler is still running stay.
     * A keyed entry waiting for its in-place redelivery after a failure goes back only when that
     * redelivery is due: it is marked idle for the lease timeout less the time left, so a reclaim
     * (which takes entries idle for a lease timeout) finds it then, however soon this consumer's
     * group is consumed again. Redis keeps idle times in the past, so a redelivery due more than a
     * lease timeout ahead comes back after one lease timeout.
     */
    private void releaseUnstarted() throws InterruptedException {
        Map<String, Duration> idleOf = new HashMap<>();
        long now = System.nanoTime();
        for (Redelivery r : redeliveries) {
            Duration left = Duration.ofNanos(Math.max(0, r.dueNanos() - now));
            Duration idle = options.leaseTimeout().minus(left);
            idleOf.put(r.entry().tag, idle.isNegative() ? Duration.ZERO : idle);
        }
        List<Fetched> left = new ArrayList<>();
        ready.drainTo(left);
        Map<String, Long> release = new LinkedHashMap<>();   // tag -> delivery count to set
        for (Fetched f : left) {
            inFlight.remove(f.tag);
            release.put(f.tag, Math.max(0, f.deliveries - 1));
        }
        if (keyOrdered) {
            // Keyed entries waiting for their turn (or for an in-place redelivery): back to the group, in their
            // key lists still, so the group's next consumer of the key takes them over at once.
            synchronized (lanes) {
                for (Lane lane : lanes.values()) {
                    for (Iterator<Fetched> it = lane.held.values().iterator(); it.hasNext(); ) {
                        Fetched f = it.next();
                        if (!f.handling) {
                            it.remove();
                            if (lane.running == f) {
                                lane.running = null;
                            }
                            inFlight.remove(f.tag);
                            release.putIfAbsent(f.tag, Math.max(0, f.deliveries - (f.started ? 0 : 1)));
                        }
                    }
                }
                lanes.values().removeIf(lane -> lane.held.isEmpty());
            }
        }
        try {
            for (byte[] key : new byte[][] {stream, retryStream}) {
                String kind = key == retryStream ? "r:" : "m:";
                List<PendingMessage> owned = await(context.control().xpending(key,
                        XPendingArgs.Builder.xpending(consumer, Range.create("-", "+"), Limit.from(1000))).toCompletableFuture());
                for (PendingMessage p : owned) {
                    String tag = kind + p.getId();
                    if (!inFlight.contains(tag)) {
                        release.putIfAbsent(tag, p.getRedeliveryCount());
                    }
                }
            }
            List<CompletableFuture<?>> releases = new ArrayList<>();
            release.forEach((tag, count) -> {
                XClaimArgs args = XClaimArgs.Builder.minIdleTime(0).idle(idleOf.getOrDefault(tag, RELEASED_IDLE))
                        .retryCount(count).justid();
                releases.add(context.control().xclaim(tag.startsWith("r:") ? retryStream : stream, consumer, args,
                        tag.substring(2)).toCompletableFuture());
            });
            CompletableFuture.allOf(releases.toArray(new CompletableFuture<?>[0]))
                    .get(context.config().commandTimeout().toMillis(), TimeUnit.MILLISECONDS);
            if (!release.isEmpty()) {
                log.debug("released {} entries of topic '{}' to group '{}'", release.size(), options.topic(), options.group());
            }
        } catch (ExecutionException | TimeoutException e) {
            log.warn("could not release {} entries of topic '{}'; they are redelivered after the lease: {}",
                    release.size(), options.topic(), e.toString());
        }
    }

    private void awaitSettled(long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        synchronized (settled) {
            while (settling.get() > 0) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    log.warn("subscription {}/{}: {} acknowledgements still unconfirmed at close", options.topic(),
                            options.group(), settling.get());
                    return;
                }
                settled.wait(left);
            }
        }
    }

    private static void join(Thread t, long nanos) throws InterruptedException {
        if (nanos > 0) {
            TimeUnit.NANOSECONDS.timedJoin(t, nanos);
        }
    }

    // ---------------------------------------------------------------- helpers

    private <T> T await(CompletableFuture<T> f) throws InterruptedException, ExecutionException, TimeoutException {
        return f.get(context.config().commandTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
    }

    private void warnRateLimited(String text) {
        long now = System.nanoTime();
        if (now - lastWarnAt >= WARN_EVERY_NANOS) {
            lastWarnAt = now;
            log.warn(text);
        } else {
            log.debug(text);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
