package io.courier.kafka.internal;

import io.courier.Message;
import io.courier.StartPosition;
import io.courier.SubscriptionOptions;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaSubscriptionOptions;
import io.courier.kafka.Ordering;
import io.courier.kafka.RetryMode;
import io.courier.spi.Outcome;
import io.courier.spi.engine.DeliverySource;
import io.courier.spi.engine.EngineTuning;
import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Settled;
import io.courier.spi.engine.SourceContext;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidGroupIdException;
import org.apache.kafka.common.errors.InvalidSessionTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka transport's {@link DeliverySource}: one Kafka consumer in the subscription's group reading
 * the topic and the group's retry topic. Threads, the in-flight budget, lanes and the close protocol
 * are the {@link io.courier.spi.engine.ConsumerEngine}'s; this class does the consumer's I/O, on the
 * engine's fetch thread only (a {@code KafkaConsumer} is not thread-safe), and settles on the
 * handler's thread through {@link PartitionTracker}s.
 *
 * <ul>
 *   <li><b>Lanes.</b> One per partition, or per partition and key ({@link Ordering#KEY}; records
 *       without a key then have none). With {@link Ordering#PARTITION}, a partition's records
 *       without a key are spread round-robin over {@code ceil(concurrency / assigned partitions)}
 *       lanes, so that every handler can be busy.</li>
 *   <li><b>Backpressure.</b> An exchange hands out at most what the engine asks for, each partition
 *       at most its share; records a poll returned beyond that wait in a per-partition backlog while
 *       their partition is paused, and every partition is paused while the engine has no room. The
 *       engine calls in every {@link #KEEP_ALIVE} even then, so the consumer keeps polling (its
 *       group membership and rebalances depend on it) and commits.</li>
 *   <li><b>Commits.</b> Every commit interval, in an exchange, each partition's
 *       {@link PartitionTracker#committable()} offset; on revocation after the revoked partitions'
 *       running records finished; on close. Records fetched but never handled are simply not
 *       committed: the group reads them again from the committed offset.</li>
 *   <li><b>Failures.</b> {@link RetryMode#RETRY_TOPIC}: the record is republished with its attempt
 *       raised to the retry topic through the delay topics and counts as finished once that is
 *       acknowledged. {@link RetryMode#IN_PLACE}: an {@linkplain #inPlaceRetry in-place retry} of the
 *       engine, its lane waiting. Unconvertible records go to {@code <topic>.dlq}.</li>
 * </ul>
 */
final class KafkaSource implements DeliverySource<KafkaSource.Rec> {

    private static final Logger log = LoggerFactory.getLogger(KafkaSource.class);
    /** Records held per partition (finished or not) behind its first unfinished record before it is paused. */
    static final int WINDOW_CAP = 10_000;
    /** Longest poll while records wait for room in a partition's share. */
    private static final Duration BACKLOG_POLL_TIMEOUT = Duration.ofMillis(5);
    /**
     * Longest the consumer goes without a poll while the engine fetches nothing: it keeps the group
     * membership, and the consumer's fetches (its network I/O happens inside {@code poll}) going.
     */
    static final Duration KEEP_ALIVE = Duration.ofMillis(5);
    private static final long SEND_RETRY_MILLIS = 1_000;
    /** Longest a revocation waits while the subscription closes. */
    private static final Duration CLOSING_REVOKE_WAIT = Duration.ofSeconds(1);
    /** Longest close waits for retry and dead-letter publishes in flight. */
    private static final Duration CLOSING_SEND_WAIT = Duration.ofSeconds(5);
    private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CONSUMER_CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final SubscriptionOptions options;
    private final KafkaSubscriptionOptions kafkaOptions;
    private final KafkaClients clients;
    private final KafkaConfig config;
    private final KafkaPublisherImpl publisher;
    private final String retryTopic;
    private final int maxPoll;
    private final CompletableFuture<Void> joined = new CompletableFuture<>();
    private final Map<TopicPartition, PartitionTracker> trackers = new ConcurrentHashMap<>();
    /** Guards the consumer: the fetch thread uses it, then the closing thread once fetching stopped. */
    private final Object consumerLock = new Object();
    // The fields below belong to the thread holding consumerLock.
    private final Map<TopicPartition, Long> committed = new HashMap<>();
    /** Records polled but not yet handed out, per partition. */
    private final Map<TopicPartition, ArrayDeque<ConsumerRecord<byte[], byte[]>>> backlogs = new LinkedHashMap<>();
    private KafkaConsumer<byte[], byte[]> consumer;
    private long nextCommitNanos;
    /** Lanes over which one partition's records without a key are spread with {@link Ordering#PARTITION}. */
    private int unkeyedLanes = 1;
    /** Round-robin position over the unkeyed lanes. */
    private int unkeyedTurn;
    private volatile SourceContext<Rec> context;
    private volatile boolean closed;

    /** A source for one subscription; the topic and the retry topic must exist. */
    KafkaSource(SubscriptionOptions options, KafkaSubscriptionOptions kafkaOptions, KafkaClients clients,
                KafkaPublisherImpl publisher, String retryTopic) {
        this.options = options;
        this.kafkaOptions = kafkaOptions;
        this.clients = clients;
        this.config = clients.config();
        this.publisher = publisher;
        this.retryTopic = retryTopic;
        this.maxPoll = Math.min(config.maxPollRecords(), options.maxInFlight());
    }

    /** The engine tuning for this source: fetches of one poll's records, 100 ms polls, one fetch thread. */
    EngineTuning tuning() {
        return EngineTuning.defaults().withFetchBatch(maxPoll).withMaxWait(Duration.ofMillis(100));
    }

    /** Completes once the consumer joined its group and got its first assignment, or failed to. */
    CompletableFuture<Void> joined() {
        return joined;
    }

    /** One fetched record: where it belongs for commits, and its attempt (raised by in-place retries). */
    static final class Rec {
        private final PartitionTracker tracker;
        private final PartitionTracker.Entry entry;
        /** Written by the handler's thread only (in-place retries run one after the other). */
        private int attempt;

        Rec(PartitionTracker tracker, PartitionTracker.Entry entry, int attempt) {
            this.tracker = tracker;
            this.entry = entry;
            this.attempt = attempt;
        }

        TopicPartition partition() {
            return tracker.partition();
        }
    }

    @Override
    public void start(SourceContext<Rec> context) {
        this.context = context;
    }

    @Override
    public Duration keepAliveInterval() {
        return KEEP_ALIVE;
    }

    @Override
    public List<Fetched<Rec>> exchange(List<Settled<Rec>> settled, int max, Duration maxWait) {
        synchronized (consumerLock) {
            if (closed) {
                return List.of();
            }
            try {
                return fetch(max, maxWait);
            } catch (RuntimeException e) {
                if (!joined.isDone() && (fatal(e) || !(e instanceof KafkaException))) {
                    joined.completeExceptionally(e);
                }
                throw e;
            }
        }
    }

    private static boolean fatal(RuntimeException e) {
        return e instanceof AuthenticationException || e instanceof AuthorizationException
                || e instanceof InvalidGroupIdException || e instanceof InvalidSessionTimeoutException;
    }

    private List<Fetched<Rec>> fetch(int max, Duration maxWait) {
        if (consumer == null) {
            try {
                consumer = clients.consumer(options.group(), "consumer-" + options.group(), maxPoll, options.leaseTimeout());
                consumer.subscribe(List.of(options.topic(), retryTopic), new Listener());
            } catch (RuntimeException e) {
                joined.completeExceptionally(e);   // a configuration the client refuses: subscribe fails
                throw e;
            }
        }
        List<Fetched<Rec>> out = new ArrayList<>();
        drain(out, max);
        boolean held = updatePauses(context.inFlight() + out.size() >= options.maxInFlight() || !context.running());
        Duration timeout;
        if (!out.isEmpty() || max == 0) {
            timeout = Duration.ZERO;
        } else if (held || !backlogs.isEmpty()) {
            // records wait for room in their partition's share: look again soon
            timeout = BACKLOG_POLL_TIMEOUT;
        } else {
            timeout = maxWait;
        }
        ConsumerRecords<byte[], byte[]> records = consumer.poll(timeout);
        for (TopicPartition tp : records.partitions()) {
            if (trackers.containsKey(tp)) {
                backlogs.computeIfAbsent(tp, k -> new ArrayDeque<>()).addAll(records.records(tp));
            }
        }
        drain(out, max);
        commitIfDue();
        return out;
    }

    // ---------------------------------------------------------------- handing out

    /**
     * Hands records from the backlogs out until {@code out} holds {@code max}, the partitions sharing
     * the room so that none takes it all, and no partition beyond its {@linkplain #partitionCap()
     * share}. What stays in a backlog waits (its partition paused).
     */
    private void drain(List<Fetched<Rec>> out, int max) {
        int budget = max - out.size();
        int cap = partitionCap();
        while (budget > 0 && !backlogs.isEmpty()) {
            int share = Math.max(1, budget / backlogs.size());
            boolean progress = false;
            Iterator<Map.Entry<TopicPartition, ArrayDeque<ConsumerRecord<byte[], byte[]>>>> it = backlogs.entrySet().iterator();
            while (it.hasNext() && budget > 0) {
                Map.Entry<TopicPartition, ArrayDeque<ConsumerRecord<byte[], byte[]>>> e = it.next();
                PartitionTracker tracker = trackers.get(e.getKey());
                ArrayDeque<ConsumerRecord<byte[], byte[]>> backlog = e.getValue();
                if (tracker == null || backlog.isEmpty()) {
                    it.remove();
                    continue;
                }
                int n = Math.min(Math.min(share, budget), Math.min(cap - tracker.unfinished(), WINDOW_CAP - tracker.window()));
                n = Math.min(n, backlog.size());
                if (n <= 0) {
                    continue;
                }
                handOut(tracker, backlog, n, out);
                budget -= n;
                progress = true;
                if (backlog.isEmpty()) {
                    it.remove();
                }
            }
            if (!progress) {
                break;
            }
        }
    }

    /**
     * Unfinished records one partition may hold: with per-partition ordering only one runs at a time,
     * so a partition gets its share of {@code maxInFlight} among the partitions that can run at once;
     * with per-key ordering a partition may use it all.
     */
    private int partitionCap() {
        if (kafkaOptions.ordering() == Ordering.KEY) {
            return options.maxInFlight();
        }
        int runnable = (int) Math.max(1, Math.min(options.concurrency(), (long) trackers.size() * unkeyedLanes));
        return (int) Math.max(1, (long) options.maxInFlight() * unkeyedLanes / runnable);
    }

    /** Decodes the first {@code n} records of {@code backlog} into {@code out}, each in its lane. */
    private void handOut(PartitionTracker tracker, ArrayDeque<ConsumerRecord<byte[], byte[]>> backlog, int n,
                         List<Fetched<Rec>> out) {
        List<ConsumerRecord<byte[], byte[]>> chunk = new ArrayList<>(n);
        long[] offsets = new long[n];
        for (int i = 0; i < n; i++) {
            ConsumerRecord<byte[], byte[]> r = backlog.pollFirst();
            chunk.add(r);
            offsets[i] = r.offset();
        }
        PartitionTracker.Entry[] entries = tracker.addAll(offsets);
        TopicPartition tp = tracker.partition();
        for (int i = 0; i < n; i++) {
            ConsumerRecord<byte[], byte[]> r = chunk.get(i);
            RecordCodec.Decoded d;
            try {
                d = RecordCodec.decode(r);
            } catch (UnconvertibleRecordException e) {
                deadLetter(r, e.getMessage(), tracker, entries[i]);
                continue;
            }
            out.add(new Fetched<>(new Rec(tracker, entries[i], d.attempt()), d.message(), d.attempt(), lane(tp, r), 0, 0));
        }
    }

    /** The ordering lane of {@code r}: see the class comment. */
    private Object lane(TopicPartition tp, ConsumerRecord<byte[], byte[]> r) {
        if (kafkaOptions.ordering() == Ordering.PARTITION) {
            if (r.key() != null || unkeyedLanes == 1) {
                return tp;
            }
            return new UnkeyedLane(tp, Math.floorMod(unkeyedTurn++, unkeyedLanes));
        }
        // By the key's bytes: equal keys are equal strings (a key that is not UTF-8 is dead-lettered).
        return r.key() == null ? null : new KeyLane(tp, ByteBuffer.wrap(r.key()));
    }

    private record KeyLane(TopicPartition partition, ByteBuffer key) {
    }

    /** One of the lanes of a partition's records without a key ({@link Ordering#PARTITION}). */
    private record UnkeyedLane(TopicPartition partition, int index) {
    }

    /**
     * With {@link Ordering#PARTITION}, a partition's records without a key go to
     * {@code ceil(concurrency / assigned partitions of the topic)} lanes round-robin: they carry no order
     * a publisher could rely on (they are spread over the partitions), and a subscription with more
     * handlers than partitions should use them. Keyed records stay in their partition's lane.
     */
    private void updateUnkeyedLanes() {
        long topicPartitions = trackers.keySet().stream().filter(tp -> tp.topic().equals(options.topic())).count();
        if (topicPartitions == 0) {
            return; // nothing of the topic to hand out (all revoked, or only retry partitions assigned)
        }
        int lanes = (int) Math.max(1, (options.concurrency() + topicPartitions - 1) / topicPartitions);
        if (lanes != unkeyedLanes && lanes > 1) {
            log.info("subscription {}/{}: concurrency {} over {} assigned partition(s): records without a key are spread over {} lanes"
                    + " per partition and not handled in offset order; records with a key keep their partition's order",
                    options.topic(), options.group(), options.concurrency(), topicPartitions, lanes);
        }
        unkeyedLanes = lanes;
    }

    /**
     * Pauses the partitions that must not get more records now (all of them when {@code full}),
     * resumes the others; true when some are paused.
     */
    private boolean updatePauses(boolean full) {
        Set<TopicPartition> assignment = consumer.assignment();
        if (assignment.isEmpty()) {
            return false;
        }
        int cap = partitionCap();
        Set<TopicPartition> want = new HashSet<>();
        for (TopicPartition tp : assignment) {
            PartitionTracker t = trackers.get(tp);
            if (full || backlogs.containsKey(tp) || (t != null && (t.unfinished() >= cap || t.window() >= WINDOW_CAP))) {
                want.add(tp);
            }
        }
        boolean held = !want.isEmpty();
        if (held && want.size() < assignment.size() && allOfTopicHeld(assignment, want)) {
            // Every partition of the topic is held: hold the retry partitions too. A fetch for them
            // alone (they are idle as a rule) would wait fetch.max.wait.ms at the broker for records
            // that do not come, and the consumer sends a broker no other fetch while one is pending:
            // the topic's partitions, once resumed, would wait with it.
            want.addAll(assignment);
        }
        Set<TopicPartition> paused = consumer.paused();
        Set<TopicPartition> resume = new HashSet<>(paused);
        resume.removeAll(want);
        want.removeAll(paused);
        if (!want.isEmpty()) {
            consumer.pause(want);
        }
        if (!resume.isEmpty()) {
            consumer.resume(resume);
        }
        return held;
    }

    private boolean allOfTopicHeld(Set<TopicPartition> assignment, Set<TopicPartition> held) {
        boolean any = false;
        for (TopicPartition tp : assignment) {
            if (tp.topic().equals(options.topic())) {
                if (!held.contains(tp)) {
                    return false;
                }
                any = true;
            }
        }
        return any;
    }

    // ---------------------------------------------------------------- settling

    @Override
    public boolean settlesOnWorker() {
        return true;
    }

    @Override
    public void settle(Settled<Rec> settled) {
        Rec r = settled.record();
        Outcome outcome = settled.outcome();
        if (outcome instanceof Outcome.Ack) {
            r.tracker.finish(r.entry);
        } else if (outcome instanceof Outcome.Retry retry) {
            republish(r, retry.apply(settled.fetched().message()), retry.delay());
        } else if (outcome instanceof Outcome.Failed failed) {
            if (!context.running() || kafkaOptions.retryMode() == RetryMode.IN_PLACE) {
                // Failed while the subscription closes (interrupted, as a rule: not a verdict on the
                // record), or in place on a revoked partition: left uncommitted, it goes to the
                // group's next consumer as it was.
                return;
            }
            republish(r, settled.fetched().message(), failed.redeliveryDelay());
        }
    }

    /** Handles a failed record again after the delay, its lane waiting, in {@link RetryMode#IN_PLACE}. */
    @Override
    public Duration inPlaceRetry(Settled<Rec> settled) {
        Rec r = settled.record();
        if (kafkaOptions.retryMode() != RetryMode.IN_PLACE || r.tracker.revoked()
                || !(settled.outcome() instanceof Outcome.Failed failed)) {
            return null;
        }
        r.attempt++;
        return failed.redeliveryDelay();
    }

    private void republish(Rec r, Message m, Duration delay) {
        int next = r.attempt + 1;
        r.tracker.started();
        sendUntilDone(r.tracker, r.entry, () -> publisher.retry(retryTopic, m, next, delay));
    }

    private void deadLetter(ConsumerRecord<byte[], byte[]> record, String reason, PartitionTracker tracker, PartitionTracker.Entry entry) {
        log.warn("subscription {}/{}: record {}-{}@{} cannot be converted into a message ({}); moving it to {}",
                options.topic(), options.group(), record.topic(), record.partition(), record.offset(), reason,
                TopicNames.deadLetterTopic(options.topic()));
        tracker.started();
        sendUntilDone(tracker, entry, () -> publisher.deadLetterUnconvertible(record, options.topic(), options.group(), reason));
    }

    /**
     * Runs {@code send} until it is acknowledged, then finishes {@code entry}; gives up (leaving the
     * record uncommitted, so it is delivered again) when the partition is revoked or the subscription
     * closes. Call with the tracker {@linkplain PartitionTracker#started() started}; stops it.
     */
    private void sendUntilDone(PartitionTracker tracker, PartitionTracker.Entry entry, Supplier<CompletableFuture<?>> send) {
        CompletableFuture<?> f;
        try {
            f = send.get();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((ok, error) -> {
            if (error == null) {
                tracker.finishAndStop(entry);
            } else if (closed || !context.running() || tracker.revoked()) {
                tracker.stopped();
            } else {
                log.warn("subscription {}/{}: settling {}@{} failed ({}); trying again in {} ms", options.topic(), options.group(),
                        tracker.partition(), entry.offset(), error.toString(), SEND_RETRY_MILLIS);
                CompletableFuture.delayedExecutor(SEND_RETRY_MILLIS, TimeUnit.MILLISECONDS)
                        .execute(() -> sendUntilDone(tracker, entry, send));
            }
        });
    }

    // ---------------------------------------------------------------- commits

    private void commitIfDue() {
        long now = System.nanoTime();
        if (now < nextCommitNanos) {
            return;
        }
        nextCommitNanos = now + config.commitInterval().toNanos();
        Map<TopicPartition, OffsetAndMetadata> offsets = committable(trackers.values());
        if (offsets.isEmpty()) {
            return;
        }
        consumer.commitAsync(offsets, (done, error) -> {
            if (error == null) {
                done.forEach((tp, o) -> committed.merge(tp, o.offset(), Math::max));
            } else {
                log.debug("subscription {}/{}: commit failed: {}", options.topic(), options.group(), error.toString());
            }
        });
    }

    private Map<TopicPartition, OffsetAndMetadata> committable(Collection<PartitionTracker> ts) {
        return PartitionTracker.committable(ts, committed);
    }

    private void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets, String when) {
        if (offsets.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(offsets, COMMIT_TIMEOUT);
            offsets.forEach((tp, o) -> committed.merge(tp, o.offset(), Math::max));
        } catch (RuntimeException e) {
            log.warn("subscription {}/{}: commit {} failed ({}); records after the last commit will be delivered again",
                    options.topic(), options.group(), when, e.toString());
        }
    }

    /** Waits until no retry or dead-letter publish of {@code ts} is in flight, or {@code deadlineNanos}. */
    private static boolean awaitSends(Collection<PartitionTracker> ts, long deadlineNanos) throws InterruptedException {
        boolean idle = true;
        for (PartitionTracker t : ts) {
            idle &= t.awaitIdle(deadlineNanos);
        }
        return idle;
    }

    // ---------------------------------------------------------------- closing

    /**
     * Called by the engine once its fetch thread stopped and the handlers finished (or were given up):
     * lets the retry publishes in flight complete, commits, and leaves the group.
     */
    @Override
    public void close() {
        synchronized (consumerLock) {
            closed = true;
            if (consumer == null) {
                return;
            }
            try {
                long deadline = System.nanoTime() + CLOSING_SEND_WAIT.toNanos();
                awaitSends(trackers.values(), deadline);
                commitSync(committable(trackers.values()), "on close");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                log.warn("subscription {}/{}: error while closing: {}", options.topic(), options.group(), e.toString());
            } finally {
                trackers.values().forEach(PartitionTracker::revoke);
                try {
                    consumer.close(CloseOptions.timeout(CONSUMER_CLOSE_TIMEOUT));
                } catch (RuntimeException e) {
                    log.debug("subscription {}/{}: consumer close failed: {}", options.topic(), options.group(), e.toString());
                }
            }
        }
    }

    // ---------------------------------------------------------------- rebalancing

    /** Runs inside {@code poll} (and {@code close}), on the thread holding the consumer. */
    private final class Listener implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            try {
                if (!partitions.isEmpty()) {
                    assign(partitions);
                }
                joined.complete(null);
            } catch (RuntimeException e) {
                joined.completeExceptionally(e);
                throw e;
            }
        }

        private void assign(Collection<TopicPartition> partitions) {
            Map<TopicPartition, OffsetAndMetadata> existing = consumer.committed(new HashSet<>(partitions));
            Map<TopicPartition, OffsetAndMetadata> startAtEnd = new HashMap<>();
            for (TopicPartition tp : partitions) {
                trackers.put(tp, new PartitionTracker(tp));
                OffsetAndMetadata c = existing.get(tp);
                if (c != null) {
                    committed.put(tp, c.offset());
                } else if (tp.topic().equals(options.topic()) && options.startPosition() == StartPosition.LATEST) {
                    consumer.seekToEnd(List.of(tp));
                    startAtEnd.put(tp, new OffsetAndMetadata(consumer.position(tp)));
                }
            }
            updateUnkeyedLanes();
            // Commit the start of a new LATEST group at once, so that it holds wherever the partition moves.
            commitSync(startAtEnd, "of the start position");
        }

        /**
         * Records of the revoked partitions that have not started are dropped (the new owner reads
         * them again); those being handled, and their retry publishes, get up to the shutdown timeout
         * to finish; then what is finished is committed.
         */
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            Map<TopicPartition, PartitionTracker> revoked = forget(partitions);
            if (revoked.isEmpty()) {
                return;
            }
            Duration wait = closed || !context.running() ? CLOSING_REVOKE_WAIT : options.shutdownTimeout();
            long deadline = System.nanoTime() + wait.toNanos();
            try {
                boolean idle = context.awaitHandled(f -> of(revoked, f), wait)
                        & awaitSends(revoked.values(), deadline);
                if (!idle) {
                    log.warn("subscription {}/{}: {} revoked while a record was still being handled; it will be delivered again",
                            options.topic(), options.group(), revoked.keySet());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            commitSync(committable(revoked.values()), "on revocation");
            partitions.forEach(committed::remove);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            forget(partitions);
            partitions.forEach(committed::remove);
        }

        /** True when {@code f} was fetched from one of {@code trackers}. */
        private boolean of(Map<TopicPartition, PartitionTracker> trackers, Fetched<Rec> f) {
            return trackers.get(f.record().partition()) == f.record().tracker;
        }

        /** Stops handing out records of {@code partitions}; returns their trackers. */
        private Map<TopicPartition, PartitionTracker> forget(Collection<TopicPartition> partitions) {
            Map<TopicPartition, PartitionTracker> gone = new HashMap<>();
            for (TopicPartition tp : partitions) {
                backlogs.remove(tp);
                PartitionTracker t = trackers.remove(tp);
                if (t != null) {
                    t.revoke();
                    gone.put(tp, t);
                }
            }
            if (!gone.isEmpty()) {
                updateUnkeyedLanes();
                context.discardUnstarted(f -> of(gone, f));
            }
            return gone;
        }
    }
}
