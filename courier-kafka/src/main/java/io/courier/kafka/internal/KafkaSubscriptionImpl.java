package io.courier.kafka.internal;

import io.courier.CourierException;
import io.courier.Handler;
import io.courier.Message;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaSubscriptionOptions;
import io.courier.kafka.Ordering;
import io.courier.kafka.RetryMode;
import io.courier.spi.BasicDelivery;
import io.courier.spi.ConsumerThreads;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.ArrayDeque;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
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
 * One subscription: a Kafka consumer in the subscription's group reading the topic and the group's
 * retry topic, on its own poll thread (a {@code KafkaConsumer} is not thread-safe).
 *
 * <ul>
 *   <li><b>Dispatch.</b> Records go to {@code concurrency} workers through a {@link LaneDispatcher}:
 *       one lane per partition, or per partition and key ({@link Ordering}). Records without a key
 *       are not ordered: with more handlers than assigned partitions they are spread over several
 *       lanes per partition, so that every handler can be busy.</li>
 *   <li><b>Backpressure.</b> At most {@code maxInFlight} records are handed to workers and unfinished,
 *       each partition at most its share; records a poll returned beyond that wait in a per-partition
 *       backlog while their partition is paused, and partitions are paused while the budget is used
 *       up. Nothing is buffered without bound: a poll returns at most {@code maxInFlight} records.</li>
 *   <li><b>Commits.</b> Every commit interval, each partition's {@link PartitionTracker#committable()}
 *       offset: never past an unfinished record, nor past a failed record whose retry publish was not
 *       acknowledged. On revocation the poll thread waits (up to the shutdown timeout) for the
 *       records of the revoked partitions being handled and commits them; on close likewise.</li>
 *   <li><b>Failures.</b> {@link RetryMode#RETRY_TOPIC}: the record is republished with its attempt
 *       raised to the retry topic through the delay topics and committed once that is acknowledged.
 *       {@link RetryMode#IN_PLACE}: handled again after the delay, its lane waiting.
 *       Unconvertible records go to {@code <topic>.dlq}.</li>
 * </ul>
 */
public final class KafkaSubscriptionImpl implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(KafkaSubscriptionImpl.class);
    /** Records held per partition (finished or not) behind its first unfinished record before it is paused. */
    static final int WINDOW_CAP = 10_000;
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    /** Poll timeout while records wait in a backlog, so that they are handed out soon after room frees up. */
    private static final Duration BACKLOG_POLL_TIMEOUT = Duration.ofMillis(5);
    private static final Duration SEND_RETRY = Duration.ofSeconds(1);
    /** Records a lane handles in a row on a worker before other lanes get their turn. */
    static final int LANE_TURN = 256;

    private final SubscriptionOptions options;
    private final KafkaSubscriptionOptions kafkaOptions;
    private final Handler handler;
    private final KafkaClients clients;
    private final KafkaConfig config;
    private final KafkaPublisherImpl publisher;
    private final String retryTopic;
    private final Consumer<KafkaSubscriptionImpl> onClosed;
    private final ExecutorService workers;
    private final ScheduledExecutorService timer;
    private final LaneDispatcher lanes;
    private final Map<TopicPartition, PartitionTracker> trackers = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> committed = new HashMap<>();
    /** Records polled but not yet handed out, per partition (poll thread only). */
    private final Map<TopicPartition, ArrayDeque<ConsumerRecord<byte[], byte[]>>> backlogs = new LinkedHashMap<>();
    private final CompletableFuture<Void> joined = new CompletableFuture<>();
    private final CountDownLatch terminated = new CountDownLatch(1);
    private final AtomicBoolean closeStarted = new AtomicBoolean();
    private final Thread pollThread;
    private volatile boolean running = true;
    private volatile boolean closing;
    private volatile Duration closeTimeout;
    private KafkaConsumer<byte[], byte[]> consumer;
    private long nextCommitNanos;
    /**
     * Lanes over which one partition's records without a key are spread with {@link Ordering#PARTITION}:
     * enough for {@code concurrency} handlers over the topic's assigned partitions (poll thread only).
     */
    private int unkeyedLanes = 1;
    /** Round-robin position over the unkeyed lanes (poll thread only). */
    private int unkeyedTurn;

    /** A subscription; call {@link #start()}. The topic and the retry topic must exist. */
    public KafkaSubscriptionImpl(SubscriptionOptions options, KafkaSubscriptionOptions kafkaOptions, Handler handler,
                                 KafkaClients clients, KafkaPublisherImpl publisher, String retryTopic,
                                 Consumer<KafkaSubscriptionImpl> onClosed) {
        this.options = options;
        this.kafkaOptions = kafkaOptions;
        this.handler = handler;
        this.clients = clients;
        this.config = clients.config();
        this.publisher = publisher;
        this.retryTopic = retryTopic;
        this.onClosed = onClosed;
        this.closeTimeout = options.shutdownTimeout();
        String name = "courier-kafka-" + options.topic() + "-" + options.group();
        this.workers = Executors.newFixedThreadPool(options.concurrency(), ConsumerThreads.factory(name));
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name + "-timer");
            t.setDaemon(true);
            return t;
        });
        this.lanes = new LaneDispatcher(workers, LANE_TURN);
        this.pollThread = new Thread(this::pollLoop, name + "-poll");
        this.pollThread.setDaemon(true);
    }

    /**
     * Starts the poll thread and waits until the consumer joined the group and got its first
     * assignment.
     *
     * @throws CourierException if it does not within the operation timeout, or the consumer failed
     */
    public void start() {
        pollThread.start();
        try {
            joined.get(config.operationTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            close(Duration.ZERO);
            throw new CourierException("consumer of topic '" + options.topic() + "' in group '" + options.group()
                    + "' did not join its group within " + config.operationTimeout() + " (is the broker at "
                    + config.bootstrapServers() + " reachable?)", e);
        } catch (ExecutionException e) {
            close(Duration.ZERO);
            Throwable cause = e.getCause();
            throw new CourierException("consumer of topic '" + options.topic() + "' in group '" + options.group()
                    + "' failed to start: " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close(Duration.ZERO);
            throw new CourierException("interrupted while subscribing to '" + options.topic() + "'", e);
        }
    }

    private void pollLoop() {
        try {
            int maxPoll = Math.min(config.maxPollRecords(), options.maxInFlight());
            consumer = clients.consumer(options.group(), "consumer-" + options.group(), maxPoll, options.leaseTimeout());
            consumer.subscribe(List.of(options.topic(), retryTopic), new Listener());
            while (running) {
                try {
                    boolean held = updatePauses();
                    // While records wait or partitions are paused for backpressure, poll briefly: the
                    // loop must hand out records and resume partitions soon after workers made room.
                    ConsumerRecords<byte[], byte[]> records = consumer.poll(held || !backlogs.isEmpty() ? BACKLOG_POLL_TIMEOUT : POLL_TIMEOUT);
                    for (TopicPartition tp : records.partitions()) {
                        if (trackers.containsKey(tp)) {
                            backlogs.computeIfAbsent(tp, k -> new ArrayDeque<>()).addAll(records.records(tp));
                        }
                    }
                    drain();
                    commitIfDue(false);
                } catch (AuthenticationException | AuthorizationException | InvalidGroupIdException | InvalidSessionTimeoutException fatal) {
                    throw fatal;
                } catch (KafkaException e) {
                    if (!running) {
                        break;
                    }
                    log.warn("subscription {}/{}: {}; retrying", options.topic(), options.group(), e.toString());
                    TimeUnit.MILLISECONDS.sleep(500);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            if (!joined.isDone()) {
                joined.completeExceptionally(t);
            } else {
                log.error("subscription {}/{} stopped: its consumer failed", options.topic(), options.group(), t);
            }
        } finally {
            running = false;
            closing = true;
            try {
                shutdown();
            } finally {
                terminated.countDown();
                onClosed.accept(this);
            }
        }
    }

    /**
     * Hands records from the backlogs to the workers while fewer than {@code maxInFlight} are
     * unfinished, in chunks, the partitions sharing the budget so that none takes it all, and no
     * partition beyond its {@linkplain #partitionCap() share}. What stays in a backlog waits (its
     * partition paused) until records finish.
     */
    private void drain() {
        int budget = options.maxInFlight() - inFlight();
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
                dispatch(tracker, backlog, n);
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

    /**
     * With {@link Ordering#PARTITION}, a partition's records without a key go to
     * {@code ceil(concurrency / assigned partitions of the topic)} lanes round-robin: they carry no order
     * a publisher could rely on (they are spread over the partitions), and a subscription with more
     * handlers than partitions should use them. Keyed records stay in their partition's lane.
     */
    private void updateUnkeyedLanes() {
        long topicPartitions = trackers.keySet().stream().filter(tp -> tp.topic().equals(options.topic())).count();
        if (topicPartitions == 0) {
            return; // nothing of the topic to dispatch (all revoked, or only retry partitions assigned)
        }
        int lanes = (int) Math.max(1, (options.concurrency() + topicPartitions - 1) / topicPartitions);
        if (lanes != unkeyedLanes && lanes > 1) {
            log.info("subscription {}/{}: concurrency {} over {} assigned partition(s): records without a key are spread over {} lanes"
                    + " per partition and not handled in offset order; records with a key keep their partition's order",
                    options.topic(), options.group(), options.concurrency(), topicPartitions, lanes);
        }
        unkeyedLanes = lanes;
    }

    /** Hands the first {@code n} records of {@code backlog} to their lanes (decoded by the workers). */
    private void dispatch(PartitionTracker tracker, ArrayDeque<ConsumerRecord<byte[], byte[]>> backlog, int n) {
        List<ConsumerRecord<byte[], byte[]>> chunk = new ArrayList<>(n);
        long[] offsets = new long[n];
        for (int i = 0; i < n; i++) {
            ConsumerRecord<byte[], byte[]> r = backlog.pollFirst();
            chunk.add(r);
            offsets[i] = r.offset();
        }
        PartitionTracker.Entry[] entries = tracker.addAll(offsets);
        TopicPartition tp = tracker.partition();
        boolean byPartition = kafkaOptions.ordering() == Ordering.PARTITION;
        if (byPartition && unkeyedLanes == 1) {
            List<Work> works = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                works.add(new Work(tracker, entries[i], chunk.get(i), tp));
            }
            lanes.submitAll(tp, works);
            return;
        }
        Map<Object, List<Work>> byLane = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            ConsumerRecord<byte[], byte[]> r = chunk.get(i);
            Object lane;
            if (r.key() == null) {
                lane = byPartition ? new UnkeyedLane(tp, Math.floorMod(unkeyedTurn++, unkeyedLanes)) : new Object();
            } else {
                // By the key's bytes: equal keys are equal strings (a key that is not UTF-8 is dead-lettered).
                lane = byPartition ? tp : new KeyLane(tp, ByteBuffer.wrap(r.key()));
            }
            byLane.computeIfAbsent(lane, k -> new ArrayList<>()).add(new Work(tracker, entries[i], r, lane));
        }
        byLane.forEach(lanes::submitAll);
    }

    private record KeyLane(TopicPartition partition, ByteBuffer key) {
    }

    /** One of the lanes of a partition's records without a key ({@link Ordering#PARTITION}). */
    private record UnkeyedLane(TopicPartition partition, int index) {
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
                tracker.finish(entry);
                tracker.stopped();
            } else if (closing || tracker.revoked()) {
                tracker.stopped();
            } else {
                log.warn("subscription {}/{}: settling {}@{} failed ({}); trying again in {}", options.topic(), options.group(),
                        tracker.partition(), entry.offset(), error.toString(), SEND_RETRY);
                if (!later(() -> sendUntilDone(tracker, entry, send), SEND_RETRY)) {
                    tracker.stopped();
                }
            }
        });
    }

    private boolean later(Runnable task, Duration delay) {
        try {
            timer.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    /** Handling of one record, possibly over several in-place attempts; a task of its lane. */
    private final class Work implements LaneDispatcher.Task {
        private final PartitionTracker tracker;
        private final PartitionTracker.Entry entry;
        private final ConsumerRecord<byte[], byte[]> record;
        private final Object lane;
        private Message message;
        private int attempt;

        Work(PartitionTracker tracker, PartitionTracker.Entry entry, ConsumerRecord<byte[], byte[]> record, Object lane) {
            this.tracker = tracker;
            this.entry = entry;
            this.record = record;
            this.lane = lane;
        }

        @Override
        public boolean run() {
            if (closing || tracker.revoked()) {
                // Not started: the record stays uncommitted and goes to whoever owns the partition next.
                return true;
            }
            if (message == null) {
                try {
                    RecordCodec.Decoded d = RecordCodec.decode(record);
                    message = d.message();
                    attempt = d.attempt();
                } catch (UnconvertibleRecordException e) {
                    deadLetter(record, e.getMessage(), tracker, entry);
                    return true;
                }
            }
            if (closing || !tracker.tryStart()) {
                return true;
            }
            boolean stop = true;
            try {
                BasicDelivery delivery = new BasicDelivery(message, options.topic(), options.group(), attempt);
                Outcome outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
                if (outcome instanceof Outcome.Ack) {
                    stop = false;
                    tracker.finishAndStop(entry);
                } else if (outcome instanceof Outcome.Retry retry) {
                    stop = false; // the retry publish settles the record
                    republish(retry.apply(message), retry.delay());
                } else if (outcome instanceof Outcome.Failed failed) {
                    if (closing) {
                        // Interrupted or failed while the subscription closes: not a verdict on the
                        // record. Left uncommitted, it goes to the group's next consumer as it was.
                        return true;
                    }
                    if (kafkaOptions.retryMode() == RetryMode.IN_PLACE) {
                        // The lane waits for this record; nothing behind it in the lane overtakes it.
                        attempt++;
                        return !later(() -> lanes.resume(lane), failed.redeliveryDelay());
                    }
                    stop = false;
                    republish(message, failed.redeliveryDelay());
                }
            } catch (RuntimeException e) {
                log.error("subscription {}/{}: settling {}@{} failed; it will be delivered again", options.topic(),
                        options.group(), tracker.partition(), entry.offset(), e);
            } finally {
                if (stop) {
                    tracker.stopped();
                }
            }
            return true;
        }

        private void republish(Message m, Duration delay) {
            sendUntilDone(tracker, entry, () -> publisher.retry(retryTopic, m, attempt + 1, delay));
        }
    }

    private int inFlight() {
        int n = 0;
        for (PartitionTracker t : trackers.values()) {
            n += t.unfinished();
        }
        return n;
    }

    /** Pauses the partitions that must not get more records now, resumes the others; true when some are paused. */
    private boolean updatePauses() {
        Set<TopicPartition> assignment = consumer.assignment();
        if (assignment.isEmpty()) {
            return false;
        }
        boolean full = closing || inFlight() >= options.maxInFlight();
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

    private void commitIfDue(boolean force) {
        long now = System.nanoTime();
        if (!force && now < nextCommitNanos) {
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
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (PartitionTracker t : ts) {
            long c = t.committable();
            if (c >= 0 && c > committed.getOrDefault(t.partition(), -1L)) {
                offsets.put(t.partition(), new OffsetAndMetadata(c));
            }
        }
        return offsets;
    }

    private void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets, String when) {
        if (offsets.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(offsets, Duration.ofSeconds(10));
            offsets.forEach((tp, o) -> committed.merge(tp, o.offset(), Math::max));
        } catch (RuntimeException e) {
            log.warn("subscription {}/{}: commit {} failed ({}); records after the last commit will be delivered again",
                    options.topic(), options.group(), when, e.toString());
        }
    }

    /** Runs on the poll thread after the loop: let handlers finish, commit, leave the group. */
    private void shutdown() {
        if (consumer == null) {
            stopExecutors();
            return;
        }
        backlogs.clear();
        try {
            long deadline = System.nanoTime() + closeTimeout.toNanos();
            Set<TopicPartition> assignment = consumer.assignment();
            if (!assignment.isEmpty()) {
                consumer.pause(assignment);
            }
            // Keep polling (paused) so that the group membership stays alive and commits complete.
            while (active() > 0 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(50));
                commitIfDue(false);
            }
            if (active() > 0) {
                log.warn("subscription {}/{}: handlers still running after {}; interrupting them, their records will be delivered again",
                        options.topic(), options.group(), closeTimeout);
                workers.shutdownNow();
            }
            commitSync(committable(trackers.values()), "on close");
        } catch (RuntimeException e) {
            log.warn("subscription {}/{}: error while closing: {}", options.topic(), options.group(), e.toString());
        } finally {
            trackers.values().forEach(PartitionTracker::revoke);
            try {
                consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            } catch (RuntimeException e) {
                log.debug("subscription {}/{}: consumer close failed: {}", options.topic(), options.group(), e.toString());
            }
            stopExecutors();
        }
    }

    private void stopExecutors() {
        workers.shutdownNow();
        timer.shutdownNow();
    }

    private int active() {
        int n = 0;
        for (PartitionTracker t : trackers.values()) {
            n += t.active();
        }
        return n;
    }

    @Override
    public SubscriptionOptions options() {
        return options;
    }

    /** The Kafka settings of this subscription. */
    public KafkaSubscriptionOptions kafkaOptions() {
        return kafkaOptions;
    }

    @Override
    public boolean isRunning() {
        return running && !closing;
    }

    @Override
    public void close(Duration timeout) {
        if (!closeStarted.compareAndSet(false, true)) {
            awaitTermination(timeout);
            return;
        }
        closeTimeout = timeout.isNegative() ? Duration.ZERO : timeout;
        closing = true;
        running = false;
        if (Thread.currentThread() == pollThread) {
            return;
        }
        if (pollThread.getState() == Thread.State.NEW) {
            stopExecutors();
            terminated.countDown();
            onClosed.accept(this);
            return;
        }
        awaitTermination(timeout);
    }

    private void awaitTermination(Duration timeout) {
        try {
            // The poll thread needs the timeout for the handlers plus a few seconds to commit and leave.
            if (!terminated.await(timeout.toMillis() + 20_000, TimeUnit.MILLISECONDS)) {
                log.warn("subscription {}/{}: consumer did not stop in time", options.topic(), options.group());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

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

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            Map<TopicPartition, PartitionTracker> revoked = new HashMap<>();
            for (TopicPartition tp : partitions) {
                backlogs.remove(tp);
                PartitionTracker t = trackers.remove(tp);
                if (t != null) {
                    t.revoke();
                    revoked.put(tp, t);
                }
            }
            if (revoked.isEmpty()) {
                return;
            }
            updateUnkeyedLanes();
            long deadline = System.nanoTime() + (closing ? Duration.ofSeconds(1) : options.shutdownTimeout()).toNanos();
            try {
                for (PartitionTracker t : revoked.values()) {
                    if (!t.awaitIdle(deadline)) {
                        log.warn("subscription {}/{}: {} revoked while a record was still being handled; it will be delivered again",
                                options.topic(), options.group(), t.partition());
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            commitSync(committable(revoked.values()), "on revocation");
            partitions.forEach(committed::remove);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) {
                backlogs.remove(tp);
                PartitionTracker t = trackers.remove(tp);
                if (t != null) {
                    t.revoke();
                }
                committed.remove(tp);
            }
            updateUnkeyedLanes();
        }
    }
}
