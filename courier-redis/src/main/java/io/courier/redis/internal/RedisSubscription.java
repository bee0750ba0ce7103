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
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
 */
public final class RedisSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(RedisSubscription.class);
    /** Idle time given to entries released on close, so that any lease considers them expired. */
    private static final Duration RELEASED_IDLE = Duration.ofDays(365);
    private static final Duration POLL = Duration.ofMillis(100);
    private static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(30);

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
        workers.forEach(Thread::start);
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
                if (free > 0 && running) {
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
        String id = entry.getId();
        Map<byte[], byte[]> body = entry.getBody();
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
        while (!slots.tryAcquire(POLL.toMillis(), TimeUnit.MILLISECONDS)) {
            if (!running) {
                ready.add(f);   // released by close()
                return;
            }
        }
        inFlight.add(f.tag);
        ready.add(f);
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
            EntryCodec.Decoded decoded;
            try {
                decoded = f.decode();
            } catch (RuntimeException e) {
                deadLetter(f, f.undecodable().message(), "undecodable", e, true);
                continue;
            }
            if (f.attempt() > maxDeliveries) {
                deadLetter(f, decoded.message(), "max-deliveries", null, true);
                continue;
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
            acks(f.retry).ack(f.entryId, () -> ackedOne(f));
        } else if (outcome instanceof Outcome.Retry r) {
            if (f.attempt() >= maxDeliveries) {
                deadLetter(f, message, "max-deliveries", null, true);
            } else {
                reschedule(f, r.apply(message), r.delay(), f.decoded().firstFailure().orElse(null));
            }
        } else if (outcome instanceof Outcome.Failed failed) {
            if (f.attempt() >= maxDeliveries) {
                deadLetter(f, message, "max-deliveries", failed.error(), true);
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
        Scripts.RESCHEDULE.<Long>run(context.control(), ScriptOutputType.INTEGER,
                        new byte[][] {f.retry ? retryStream : stream, retryDue},
                        group, EntryCodec.bytes(f.entryId), EntryCodec.bytes(f.retry ? "1" : "0"),
                        EntryCodec.bytes(Long.toString(due)), member)
                .whenComplete((done, e) -> {
                    if (e != null) {
                        log.warn("could not schedule a retry of entry {} of topic '{}' for group '{}'; it stays pending"
                                + " and is redelivered after its lease: {}", f.entryId, options.topic(), options.group(), e.toString());
                    } else if (delay.compareTo(context.config().schedulerInterval()) < 0) {
                        context.mover().kick();
                    }
                    finished(f);
                });
    }

    /**
     * Copies the entry to {@code <topic>.dlq} with the reason in {@link Headers} and acks it, atomically.
     * {@code holdsSlot}: whether the entry occupies an in-flight slot to give back.
     */
    private void deadLetter(Fetched f, Message message, String reason, Throwable error, boolean holdsSlot) {
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
        List<byte[]> args = new ArrayList<>(6 + fields.size());
        args.add(group);
        args.add(EntryCodec.bytes(f.entryId));
        args.add(EntryCodec.bytes(f.retry ? "1" : "0"));
        args.addAll(Arrays.asList(trim));
        args.addAll(fields);
        settling.incrementAndGet();
        Scripts.DEAD_LETTER.<Long>run(context.control(), ScriptOutputType.INTEGER,
                        new byte[][] {f.retry ? retryStream : stream, context.keys().stream(deadLetterTopic)},
                        args.toArray(new byte[0][]))
                .whenComplete((moved, e) -> {
                    if (e != null) {
                        log.warn("could not dead-letter entry {} of topic '{}' for group '{}'; it stays pending: {}",
                                f.entryId, options.topic(), options.group(), e.toString());
                    } else if (moved != null && moved == 1) {
                        log.warn("dead-lettered message {} (entry {}) of topic '{}' for group '{}' to '{}' after {} attempts: {}",
                                message.id(), f.entryId, options.topic(), options.group(), deadLetterTopic,
                                headers.get(Headers.ATTEMPTS), reason);
                    }
                    if (holdsSlot) {
                        finished(f);
                    } else {
                        settledOne();
                    }
                });
    }

    private void finished(Fetched f) {
        inFlight.remove(f.tag);
        slots.release();
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
            releaseUnstarted();
            awaitSettled(Math.max(TimeUnit.SECONDS.toNanos(2), deadline - System.nanoTime()));
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
     */
    private void releaseUnstarted() throws InterruptedException {
        List<Fetched> left = new ArrayList<>();
        ready.drainTo(left);
        Map<String, Long> release = new LinkedHashMap<>();   // tag -> delivery count to set
        for (Fetched f : left) {
            inFlight.remove(f.tag);
            release.put(f.tag, Math.max(0, f.deliveries - 1));
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
                XClaimArgs args = XClaimArgs.Builder.minIdleTime(0).idle(RELEASED_IDLE).retryCount(count).justid();
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
