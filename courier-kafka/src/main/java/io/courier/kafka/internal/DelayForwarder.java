package io.courier.kafka.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves records out of the delay topics when they are due: into the target topic once their delivery
 * time has come, otherwise into the next, shorter delay step. One consumer in the forwarder group
 * (shared by every process that runs a forwarder) reads all steps; each fetched record is held in
 * memory and timed individually, and its offset is committed only once it was forwarded and
 * acknowledged, so a crash forwards it again (at-least-once) instead of losing it. A partition holding
 * {@value #WINDOW_CAP} records is paused until some are forwarded. Thread-safe.
 */
public final class DelayForwarder implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DelayForwarder.class);
    /** Records held per partition before it is paused. */
    static final int WINDOW_CAP = 1000;
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    private static final Duration SEND_RETRY = Duration.ofSeconds(1);
    private static final Duration SESSION_TIMEOUT = Duration.ofSeconds(10);

    private final KafkaClients clients;
    private final DelayLadder ladder;
    private final KafkaPublisherImpl publisher;
    private final TopicManager topics;
    private final ScheduledExecutorService timer;
    private final Map<TopicPartition, PartitionTracker> trackers = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> committed = new HashMap<>();
    private final Thread thread;
    private volatile boolean running = true;
    private KafkaConsumer<byte[], byte[]> consumer;
    private long nextCommitNanos;

    /** A forwarder that writes with {@code publisher}; call {@link #start()}. */
    public DelayForwarder(KafkaClients clients, DelayLadder ladder, KafkaPublisherImpl publisher, TopicManager topics) {
        this.clients = clients;
        this.ladder = ladder;
        this.publisher = publisher;
        this.topics = topics;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "courier-kafka-delay-timer");
            t.setDaemon(true);
            return t;
        });
        this.thread = new Thread(this::run, "courier-kafka-delay-forwarder");
        this.thread.setDaemon(true);
    }

    /** Starts consuming the delay topics, which must exist. */
    public void start() {
        thread.start();
    }

    private void run() {
        try {
            consumer = clients.consumer(clients.config().delayForwarderGroup(), "delay-forwarder", 500, SESSION_TIMEOUT);
            consumer.subscribe(ladder.topics(), new Listener());
            while (running) {
                try {
                    updatePauses();
                    ConsumerRecords<byte[], byte[]> records = consumer.poll(POLL_TIMEOUT);
                    for (ConsumerRecord<byte[], byte[]> r : records) {
                        PartitionTracker t = trackers.get(new TopicPartition(r.topic(), r.partition()));
                        if (t != null) {
                            hold(r, t, t.add(r.offset()));
                        }
                    }
                    commitIfDue(false);
                } catch (KafkaException e) {
                    if (!running) {
                        break;
                    }
                    log.warn("delay forwarder: {}; retrying", e.toString());
                    TimeUnit.MILLISECONDS.sleep(500);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            log.error("delay forwarder stopped; delayed messages and retries are not delivered by this process", t);
        } finally {
            shutdown();
        }
    }

    private void hold(ConsumerRecord<byte[], byte[]> r, PartitionTracker t, PartitionTracker.Entry e) {
        String target = RecordCodec.header(r, RecordCodec.TARGET_TOPIC);
        Long deliverAt = millis(RecordCodec.header(r, RecordCodec.DELIVER_AT));
        Long dueAt = millis(RecordCodec.header(r, RecordCodec.DUE_AT));
        if (target == null || deliverAt == null || dueAt == null) {
            String reason = "delay record without valid " + RecordCodec.TARGET_TOPIC + ", " + RecordCodec.DELIVER_AT
                    + " and " + RecordCodec.DUE_AT + " headers";
            log.warn("delay forwarder: {}-{}@{}: {}; moving it to {}", r.topic(), r.partition(), r.offset(), reason,
                    TopicNames.deadLetterTopic(r.topic()));
            sendUntilDone(t, e, () -> publisher.deadLetterUnconvertible(r, r.topic(), clients.config().delayForwarderGroup(), reason), Duration.ZERO);
            return;
        }
        Duration wait = Duration.ofMillis(Math.max(0, dueAt - System.currentTimeMillis()));
        // Whoever wrote the delay record created the target; it is created again if it was deleted since,
        // so that the record is not lost (and the producer never blocks on a missing topic).
        sendUntilDone(t, e, () -> topics.ensure(target, clients.config().partitions(), false, Optional.empty())
                .thenCompose(n -> publisher.schedule(target, r.key(), r.value(), r.headers(), Instant.ofEpochMilli(deliverAt))), wait);
    }

    private void sendUntilDone(PartitionTracker t, PartitionTracker.Entry e,
                               java.util.function.Supplier<java.util.concurrent.CompletableFuture<?>> send, Duration after) {
        Runnable attempt = new Runnable() {
            @Override
            public void run() {
                if (t.revoked() || !running) {
                    return;
                }
                send.get().whenComplete((ok, error) -> {
                    if (error == null) {
                        t.finish(e);
                    } else if (running && !t.revoked()) {
                        log.warn("delay forwarder: forwarding {}@{} failed ({}); trying again in {}", t.partition(), e.offset(),
                                error.toString(), SEND_RETRY);
                        schedule(this, SEND_RETRY);
                    }
                });
            }
        };
        schedule(attempt, after);
    }

    private void schedule(Runnable task, Duration after) {
        try {
            timer.schedule(task, after.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing: the record stays uncommitted and is forwarded after the next start
        }
    }

    private void updatePauses() {
        Set<TopicPartition> want = new HashSet<>();
        for (PartitionTracker t : trackers.values()) {
            if (t.window() >= WINDOW_CAP) {
                want.add(t.partition());
            }
        }
        Set<TopicPartition> paused = consumer.paused();
        Set<TopicPartition> resume = new HashSet<>(paused);
        resume.removeAll(want);
        want.removeAll(paused);
        want.retainAll(consumer.assignment());
        if (!want.isEmpty()) {
            consumer.pause(want);
        }
        if (!resume.isEmpty()) {
            consumer.resume(resume);
        }
    }

    private void commitIfDue(boolean sync) {
        long now = System.nanoTime();
        if (!sync && now < nextCommitNanos) {
            return;
        }
        nextCommitNanos = now + clients.config().commitInterval().toNanos();
        Map<TopicPartition, OffsetAndMetadata> offsets = committable(trackers.values());
        if (offsets.isEmpty()) {
            return;
        }
        if (sync) {
            consumer.commitSync(offsets, Duration.ofSeconds(10));
            offsets.forEach((tp, o) -> committed.merge(tp, o.offset(), Math::max));
        } else {
            consumer.commitAsync(offsets, (done, error) -> {
                if (error == null) {
                    done.forEach((tp, o) -> committed.merge(tp, o.offset(), Math::max));
                } else {
                    log.debug("delay forwarder: commit failed: {}", error.toString());
                }
            });
        }
    }

    private Map<TopicPartition, OffsetAndMetadata> committable(Collection<PartitionTracker> ts) {
        return PartitionTracker.committable(ts, committed);
    }

    private void shutdown() {
        try {
            if (consumer != null) {
                try {
                    commitIfDue(true);
                } catch (RuntimeException e) {
                    log.debug("delay forwarder: final commit failed: {}", e.toString());
                }
                trackers.values().forEach(PartitionTracker::revoke);
                consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
            }
        } catch (RuntimeException e) {
            log.debug("delay forwarder: close failed: {}", e.toString());
        } finally {
            timer.shutdownNow();
        }
    }

    /** Stops forwarding and leaves the group; records not yet forwarded are forwarded by another forwarder or after a restart. */
    @Override
    public void close() {
        running = false;
        try {
            thread.join(Duration.ofSeconds(20).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Long millis(String value) {
        if (value == null) {
            return null;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private final class Listener implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) {
                trackers.put(tp, new PartitionTracker(tp));
            }
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            Map<TopicPartition, PartitionTracker> revoked = new HashMap<>();
            for (TopicPartition tp : partitions) {
                PartitionTracker t = trackers.remove(tp);
                if (t != null) {
                    t.revoke();
                    revoked.put(tp, t);
                }
            }
            Map<TopicPartition, OffsetAndMetadata> offsets = committable(revoked.values());
            if (!offsets.isEmpty()) {
                try {
                    consumer.commitSync(offsets, Duration.ofSeconds(10));
                } catch (RuntimeException e) {
                    log.debug("delay forwarder: commit on revocation failed: {}", e.toString());
                }
            }
            partitions.forEach(committed::remove);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) {
                PartitionTracker t = trackers.remove(tp);
                if (t != null) {
                    t.revoke();
                }
                committed.remove(tp);
            }
        }
    }
}
