package io.courier.benchmarks;

import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.kafka.AssignmentStrategy;
import io.courier.kafka.Compression;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaTransport;
import io.courier.kafka.internal.KafkaClients;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Apache Kafka (the broker of {@code scripts/kafka}, {@value #DEFAULT_BOOTSTRAP} or
 * {@code COURIER_KAFKA_BOOTSTRAP}): Courier's {@link KafkaTransport} behind a {@link Router} against
 * plain {@code kafka-clients} code doing the same durable work with the same settings.
 *
 * <p>Settings, identical on both sides:
 * <ul>
 *   <li>Topic: fresh per phase, {@value #PARTITIONS} partitions, {@code max.message.bytes} 1,065,536 (what
 *       Courier gives the topics it creates); topics and groups are deleted when the phase ends.</li>
 *   <li>Producer: one per pipeline, shared by the {@value #PUBLISHERS} publishing threads; Courier's
 *       producer settings exactly ({@code acks=all}, {@code enable.idempotence=true}, {@code retries=MAX},
 *       {@code max.in.flight.requests.per.connection=5}, {@code linger.ms=5}, {@code batch.size=16384},
 *       {@code compression.type=none}, the same timeouts and {@code max.request.size}; the raw side checks
 *       at start that its settings equal Courier's). A publish of {@value #BATCH} records sends each
 *       record and returns when every one is acknowledged. Records have no key and go round-robin over
 *       the partitions (Courier's {@code spreadUnkeyedMessages}); both sides add a message id and a
 *       time header ({@code ce_id}, {@code ce_time}).</li>
 *   <li>Consumer: one {@code KafkaConsumer} per pipeline on its own poll thread (poll timeout 100 ms, 5 ms while paused),
 *       classic group protocol, cooperative-sticky assignment, {@code read_committed},
 *       {@code enable.auto.commit=false}, {@code auto.offset.reset=earliest}, {@code max.poll.records} =
 *       {@value #MAX_IN_FLIGHT}, session timeout 30 s, the same fetch sizes. Records go to
 *       {@value #CONCURRENCY} worker threads, one partition's records one at a time in offset order;
 *       all partitions are paused while {@value #MAX_IN_FLIGHT} records are handed out and unfinished.
 *       Every 500 ms the poll thread commits (asynchronously) the offset after the last handled record
 *       of each partition; on close it waits for the workers and commits synchronously. So nothing is
 *       committed before it was handled.</li>
 * </ul>
 *
 * <p>What differs is what each side does on top. Courier: its consumer also reads the group's retry
 * topic, and subscribing starts its delay forwarder (a consumer of the delay topics, idle here); it
 * hands a partition's polled records to its lane in chunks, tracks every record for the offset commit,
 * bounds in flight exactly (the raw side hands a partition's chunk to a worker and bounds in flight
 * before each poll only, so it may hold up to twice as many); its workers decode every record into a
 * {@link Message} (headers included) and call the handler through the router. The raw side passes the
 * record's value and never reads its headers.
 *
 * <p>The second reference is Kafka's own {@code ProducerPerformance}, run by
 * {@code scripts/perftest-kafka} after the latency phase ({@link ProducerPerformance}).
 *
 * <p>The publish-only scenarios ({@code kafka-publish-100b}, {@code kafka-publish-1k}) run the same
 * producers the same way with nothing consuming: a round's rate is records acknowledged / time until
 * the last publish returned. ProducerPerformance runs in every one of their rounds, alternating with
 * the two pipelines, so that the three are compared under the same machine load. It differs from
 * both pipelines in how it sends (one thread that never waits, bounded by {@code buffer.memory}), in
 * its record (no key, no headers, Kafka's sticky partitioner) and in running in a JVM of its own.
 */
final class KafkaScenarios {

    static final String DEFAULT_BOOTSTRAP = "127.0.0.1:9092";
    static final String BOOTSTRAP = Optional.ofNullable(System.getenv("COURIER_KAFKA_BOOTSTRAP")).orElse(DEFAULT_BOOTSTRAP);
    static final int PARTITIONS = KafkaConfig.DEFAULT_PARTITIONS;
    static final int PUBLISHERS = 4;
    static final int BATCH = 500;
    static final int CONCURRENCY = 4;
    /**
     * Records handed out and unfinished, at most, per consumer (also {@code max.poll.records}). Kafka
     * consumers fetch in large batches; a budget of a few hundred would measure the pause/poll cycle,
     * not the transport.
     */
    static final int MAX_IN_FLIGHT = 2000;
    static final Duration LINGER = KafkaConfig.DEFAULT_LINGER;
    static final int BATCH_SIZE_BYTES = KafkaConfig.DEFAULT_BATCH_SIZE_BYTES;
    static final Compression COMPRESSION = Compression.NONE;
    static final Duration COMMIT_INTERVAL = KafkaConfig.DEFAULT_COMMIT_INTERVAL;
    static final Duration SESSION_TIMEOUT = SubscriptionOptions.DEFAULT_LEASE_TIMEOUT;
    static final Duration POLL_TIMEOUT = Duration.ofMillis(100);
    /** Poll timeout while the partitions are paused for backpressure (Courier's consumer does the same). */
    static final Duration PAUSED_POLL_TIMEOUT = Duration.ofMillis(5);
    /** The latency phase runs at no more than this rate (one synchronous publish waits for linger.ms plus a round trip). */
    static final double LATENCY_RATE = 1000;

    private KafkaScenarios() {
    }

    static List<Scenario> scenarios() {
        String reference = "raw kafka-clients " + org.apache.kafka.common.utils.AppInfoParser.getVersion()
                + " producer + consumer, same settings";
        String settings = PARTITIONS + " partitions, acks=all, idempotent, linger " + LINGER.toMillis() + " ms, "
                + PUBLISHERS + " publishers x " + BATCH + ", " + CONCURRENCY + " consumer threads, " + MAX_IN_FLIGHT + " in flight";
        String publishReference = "raw kafka-clients " + org.apache.kafka.common.utils.AppInfoParser.getVersion()
                + " producer, same settings";
        String publishSettings = PARTITIONS + " partitions, acks=all, idempotent, linger " + LINGER.toMillis() + " ms, batch.size "
                + BATCH_SIZE_BYTES + ", compression " + COMPRESSION.kafkaName() + ", " + PUBLISHERS + " publishers x " + BATCH
                + ", nothing consumes; + ProducerPerformance every round";
        return List.of(
                new Scenario("kafka-e2e-100b", "Kafka, 100-byte payloads, " + settings, reference, 100, PUBLISHERS, BATCH,
                        runId -> new CourierKafka(runId, true), runId -> new RawKafka(runId, true), LATENCY_RATE,
                        new ProducerPerformance()),
                new Scenario("kafka-e2e-1k", "Kafka, 1 KiB payloads, " + settings, reference, 1024, PUBLISHERS, BATCH,
                        runId -> new CourierKafka(runId, true), runId -> new RawKafka(runId, true), LATENCY_RATE,
                        new ProducerPerformance()),
                publishOnly("kafka-publish-100b", "Kafka publish only, 100-byte payloads, " + publishSettings, publishReference, 100),
                publishOnly("kafka-publish-1k", "Kafka publish only, 1 KiB payloads, " + publishSettings, publishReference, 1024));
    }

    /**
     * A publish-only scenario: the producers of the end-to-end scenarios with nothing consuming, and
     * Kafka's {@code ProducerPerformance} in every round.
     */
    private static Scenario publishOnly(String name, String description, String reference, int payloadBytes) {
        return new Scenario(name, description, reference, payloadBytes, PUBLISHERS, BATCH,
                runId -> new CourierKafka(runId, false), runId -> new RawKafka(runId, false), 0, new ProducerPerformance(), true);
    }

    /** Courier's configuration for the scenarios; every setting the comparison depends on is named. */
    static KafkaConfig config() {
        return KafkaConfig.builder()
                .bootstrapServers(BOOTSTRAP)
                .clientId("bench-courier")
                .partitions(PARTITIONS)
                .linger(LINGER)
                .batchSizeBytes(BATCH_SIZE_BYTES)
                .compression(COMPRESSION)
                .commitInterval(COMMIT_INTERVAL)
                .maxPollRecords(MAX_IN_FLIGHT)
                .assignmentStrategy(AssignmentStrategy.COOPERATIVE_STICKY)
                .spreadUnkeyedMessages(true)
                .build();
    }

    private static Admin admin() {
        Map<String, Object> p = new HashMap<>(config().connectionProperties());
        p.put("client.id", "bench-admin");
        return Admin.create(p);
    }

    /** Deletes a phase's topics and consumer group, if it had one (best effort: a failure is printed, not thrown). */
    private static void cleanUp(List<String> topics, String group) {
        try (Admin admin = admin()) {
            if (group != null) {
                admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS);
            }
            admin.deleteTopics(topics).all().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.err.println("cleaning up Kafka topics " + topics + " / group " + group + " failed: " + e);
        }
    }

    /**
     * Courier: {@link KafkaTransport} used through a {@link Router}, as an application would. Without
     * {@code consume} (publish-only), {@link #start} publishes one message and waits for it instead of
     * subscribing, so that the topic exists and the producer knows its partitions before the clock starts.
     */
    private static final class CourierKafka implements Pipeline {
        private final String topic;
        private final String group;
        private final boolean consume;
        private final KafkaTransport transport;
        private final Router router;

        CourierKafka(String runId, boolean consume) {
            this.topic = "bench-courier-" + runId;
            this.group = "bench-courier-" + runId + "-g";
            this.consume = consume;
            this.transport = KafkaTransport.create(config());
            this.router = Router.builder(transport).build();
        }

        @Override
        public void start(Consumer<byte[]> onMessage) {
            if (!consume) {
                router.publisher().publish(topic, Message.of(Driver.payload(16, System.nanoTime()))).join();
                return;
            }
            router.route(SubscriptionOptions.builder(topic, group).concurrency(CONCURRENCY).maxInFlight(MAX_IN_FLIGHT)
                            .leaseTimeout(SESSION_TIMEOUT).build(),
                    d -> onMessage.accept(d.message().payload())).start();
        }

        @Override
        public void publish(List<byte[]> batch) {
            if (batch.size() == 1) {
                router.publisher().publish(topic, Message.of(batch.get(0))).join();
                return;
            }
            List<Message> messages = new ArrayList<>(batch.size());
            for (byte[] b : batch) {
                messages.add(Message.of(b));
            }
            router.publisher().publishAll(topic, messages).join();
        }

        @Override
        public void close() {
            try {
                router.close();
                transport.close();
            } finally {
                if (consume) {
                    cleanUp(List.of(topic, KafkaTransport.retryTopic(topic, group)), group);
                } else {
                    cleanUp(List.of(topic), null);
                }
            }
        }
    }

    /**
     * The reference: a plain producer and a consumer with a worker pool, as a careful application writes
     * them. Without {@code consume} (publish-only), {@link #start} sends one record and waits for it
     * instead of starting the consumer, as Courier's side does.
     */
    private static final class RawKafka implements Pipeline {
        private final String topic;
        private final String group;
        private final boolean consume;
        private final KafkaProducer<byte[], byte[]> producer;
        private final AtomicInteger roundRobin = new AtomicInteger();
        private final ExecutorService workers = Executors.newFixedThreadPool(CONCURRENCY, r -> {
            Thread t = new Thread(r, "raw-kafka-worker");
            t.setDaemon(true);
            return t;
        });
        /** Per partition: the offset after the last handled record (written by workers, committed by the poll thread). */
        private final Map<TopicPartition, Long> handled = new ConcurrentHashMap<>();
        private final AtomicInteger inFlight = new AtomicInteger();
        private final CompletableFuture<Void> assigned = new CompletableFuture<>();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private Thread pollThread;
        private volatile boolean running = true;

        RawKafka(String runId, boolean consume) throws Exception {
            this.topic = "bench-raw-" + runId;
            this.group = "bench-raw-" + runId + "-g";
            this.consume = consume;
            try (Admin admin = admin()) {
                NewTopic t = new NewTopic(topic, Optional.of(PARTITIONS), Optional.empty());
                t.configs(Map.of("max.message.bytes", Integer.toString(KafkaConfig.DEFAULT_MAX_PAYLOAD_BYTES
                        + KafkaClients.RECORD_OVERHEAD_BYTES)));
                admin.createTopics(List.of(t)).all().get(60, TimeUnit.SECONDS);
                awaitPartitionsOnline(admin, topic);
            }
            this.producer = new KafkaProducer<>(producerProperties(), new ByteArraySerializer(), new ByteArraySerializer());
        }

        /**
         * Waits until every partition's leader answers for it, as Courier's topic manager does: an
         * idempotent producer sending to a partition its broker has announced but not yet created can
         * lose records (KAFKA-15591; this run's first request fails, a later one is appended, the
         * retries of the first are rejected as out of order until they expire).
         */
        private static void awaitPartitionsOnline(Admin admin, String topic) throws Exception {
            Map<TopicPartition, OffsetSpec> ends = new HashMap<>();
            for (int p = 0; p < PARTITIONS; p++) {
                ends.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try {
                    admin.listOffsets(ends).all().get(60, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof RetriableException) || System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(20);
                }
            }
        }

        /** The producer settings, written out; must equal what Courier's producer gets (checked). */
        private static Map<String, Object> producerProperties() {
            Map<String, Object> p = new HashMap<>(config().connectionProperties());
            p.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-raw-producer");
            p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            p.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
            p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
            p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) KafkaConfig.DEFAULT_DELIVERY_TIMEOUT.toMillis());
            p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) KafkaConfig.DEFAULT_REQUEST_TIMEOUT.toMillis());
            p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, KafkaConfig.DEFAULT_MAX_BLOCK.toMillis());
            p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, COMPRESSION.kafkaName());
            p.put(ProducerConfig.LINGER_MS_CONFIG, (int) LINGER.toMillis());
            p.put(ProducerConfig.BATCH_SIZE_CONFIG, BATCH_SIZE_BYTES);
            p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, KafkaConfig.DEFAULT_MAX_PAYLOAD_BYTES + KafkaClients.RECORD_OVERHEAD_BYTES);
            p.put("metadata.recovery.strategy", "none");
            Map<String, Object> courier = new HashMap<>(config().connectionProperties());
            courier.putAll(new KafkaClients(config()).producerProperties(null));
            Map<String, Object> mine = new HashMap<>(p);
            mine.remove(ProducerConfig.CLIENT_ID_CONFIG);
            courier.remove(ProducerConfig.CLIENT_ID_CONFIG);
            if (!normalized(mine).equals(normalized(courier))) {
                throw new IllegalStateException("the raw producer's settings differ from Courier's: raw " + normalized(mine)
                        + ", Courier " + normalized(courier) + "; update KafkaScenarios");
            }
            return p;
        }

        private static Map<String, String> normalized(Map<String, Object> m) {
            Map<String, String> n = new java.util.TreeMap<>();
            m.forEach((k, v) -> n.put(k, String.valueOf(v)));
            return n;
        }

        private Map<String, Object> consumerProperties() {
            int sessionMs = (int) SESSION_TIMEOUT.toMillis();
            Map<String, Object> p = new HashMap<>(config().connectionProperties());
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, "bench-raw-consumer");
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, AssignmentStrategy.COOPERATIVE_STICKY.assignorClass());
            p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, MAX_IN_FLIGHT);
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, sessionMs);
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, Math.max(100, Math.min(1000, sessionMs / 3)));
            p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) KafkaConfig.DEFAULT_REQUEST_TIMEOUT.toMillis());
            p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) KafkaConfig.DEFAULT_OPERATION_TIMEOUT.toMillis());
            p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, KafkaConfig.DEFAULT_MAX_PAYLOAD_BYTES + KafkaClients.RECORD_OVERHEAD_BYTES);
            return p;
        }

        @Override
        public void start(Consumer<byte[]> onMessage) throws Exception {
            if (!consume) {
                publish(List.of(Driver.payload(16, System.nanoTime())));
                return;
            }
            KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProperties(), new ByteArrayDeserializer(),
                    new ByteArrayDeserializer());
            pollThread = new Thread(() -> pollLoop(consumer, onMessage), "raw-kafka-poll");
            pollThread.setDaemon(true);
            pollThread.start();
            // Like Courier's subscribe: return once the consumer has its partitions.
            assigned.get(60, TimeUnit.SECONDS);
        }

        private void pollLoop(KafkaConsumer<byte[], byte[]> consumer, Consumer<byte[]> onMessage) {
            Map<TopicPartition, CompletableFuture<Void>> tails = new HashMap<>();
            Map<TopicPartition, Long> committed = new HashMap<>();
            try (consumer) {
                consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(java.util.Collection<TopicPartition> partitions) {
                        // Let the revoked partitions' work finish, then commit it.
                        for (TopicPartition tp : partitions) {
                            CompletableFuture<Void> tail = tails.remove(tp);
                            if (tail != null) {
                                tail.orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> null).join();
                            }
                        }
                        commit(consumer, committed, true);
                        partitions.forEach(tp -> {
                            committed.remove(tp);
                            handled.remove(tp);
                        });
                    }

                    @Override
                    public void onPartitionsAssigned(java.util.Collection<TopicPartition> partitions) {
                        if (!partitions.isEmpty()) {
                            assigned.complete(null);
                        }
                    }
                });
                long nextCommit = System.nanoTime() + COMMIT_INTERVAL.toNanos();
                while (running) {
                    Set<TopicPartition> assignment = consumer.assignment();
                    if (inFlight.get() >= MAX_IN_FLIGHT) {
                        consumer.pause(assignment);
                    } else if (!consumer.paused().isEmpty()) {
                        consumer.resume(consumer.paused());
                    }
                    // While paused, poll briefly: it keeps the group membership alive, and the loop must
                    // resume as soon as the workers have made room (a 100 ms poll here would cap the rate).
                    ConsumerRecords<byte[], byte[]> records = consumer.poll(consumer.paused().isEmpty() ? POLL_TIMEOUT
                            : PAUSED_POLL_TIMEOUT);
                    for (TopicPartition tp : records.partitions()) {
                        List<ConsumerRecord<byte[], byte[]>> chunk = records.records(tp);
                        inFlight.addAndGet(chunk.size());
                        CompletableFuture<Void> tail = tails.getOrDefault(tp, CompletableFuture.completedFuture(null));
                        tails.put(tp, tail.thenRunAsync(() -> handle(tp, chunk, onMessage), workers));
                    }
                    if (System.nanoTime() >= nextCommit) {
                        commit(consumer, committed, false);
                        nextCommit = System.nanoTime() + COMMIT_INTERVAL.toNanos();
                    }
                }
                for (CompletableFuture<Void> tail : new HashSet<>(tails.values())) {
                    tail.orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> null).join();
                }
                commit(consumer, committed, true);
            } catch (WakeupException e) {
                if (running) {
                    failure.set(e);
                }
            } catch (Throwable t) {
                failure.set(t);
                assigned.completeExceptionally(t);
                System.err.println("raw Kafka consumer failed: " + t);
            }
        }

        private void handle(TopicPartition tp, List<ConsumerRecord<byte[], byte[]>> chunk, Consumer<byte[]> onMessage) {
            for (ConsumerRecord<byte[], byte[]> r : chunk) {
                onMessage.accept(r.value());
                handled.put(tp, r.offset() + 1);
                inFlight.decrementAndGet();
            }
        }

        /** Commits the handled offsets that moved since the last commit. */
        private void commit(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> committed, boolean sync) {
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            handled.forEach((tp, offset) -> {
                if (offset > committed.getOrDefault(tp, -1L)) {
                    offsets.put(tp, new OffsetAndMetadata(offset));
                }
            });
            if (offsets.isEmpty()) {
                return;
            }
            if (sync) {
                consumer.commitSync(offsets, Duration.ofSeconds(10));
                offsets.forEach((tp, o) -> committed.put(tp, o.offset()));
            } else {
                consumer.commitAsync(offsets, (done, error) -> {
                    if (error == null) {
                        done.forEach((tp, o) -> committed.merge(tp, o.offset(), Math::max));
                    }
                });
            }
        }

        @Override
        public void publish(List<byte[]> batch) throws Exception {
            Throwable consumerFailure = failure.get();
            if (consumerFailure != null) {
                throw new IllegalStateException("the raw consumer failed: " + consumerFailure, consumerFailure);
            }
            CountDownLatch acked = new CountDownLatch(batch.size());
            AtomicReference<Exception> error = new AtomicReference<>();
            for (byte[] payload : batch) {
                RecordHeaders headers = new RecordHeaders();
                headers.add("ce_id", UUID.randomUUID().toString().getBytes(StandardCharsets.UTF_8));
                Instant now = Instant.now();
                headers.add("ce_time", now.toString().getBytes(StandardCharsets.UTF_8));
                int partition = Math.floorMod(roundRobin.getAndIncrement(), PARTITIONS);
                producer.send(new ProducerRecord<>(topic, partition, now.toEpochMilli(), null, payload, headers), (meta, e) -> {
                    if (e != null) {
                        error.compareAndSet(null, e);
                    }
                    acked.countDown();
                });
            }
            if (!acked.await(KafkaConfig.DEFAULT_DELIVERY_TIMEOUT.toMillis() + 10_000, TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("records not acknowledged within the delivery timeout");
            }
            if (error.get() != null) {
                throw error.get();
            }
        }

        @Override
        public void close() throws Exception {
            running = false;
            try {
                if (pollThread != null) {
                    pollThread.join(TimeUnit.SECONDS.toMillis(45));
                }
                producer.close(Duration.ofSeconds(30));
            } finally {
                workers.shutdownNow();
                cleanUp(List.of(topic), consume ? group : null);
            }
        }
    }

    /**
     * Kafka's own producer benchmark, {@code org.apache.kafka.tools.ProducerPerformance}, run by
     * {@code scripts/perftest-kafka} in a child JVM with the scenario's record size and producer
     * settings, as many records as the harness asks for (at least {@value #MIN_RECORDS}: in an end-to-end
     * scenario as many as Courier published in its median round, in a publish-only round about
     * {@code --seconds}' worth) after as many warm-up records (at most {@value #MAX_WARMUP_RECORDS} in
     * an end-to-end scenario), which ProducerPerformance reports separately; the steady-state figures
     * are kept. In a publish-only round the warm-up is not capped: its fresh JVM warms up for about
     * {@code --seconds}, as the pipelines it is compared with are warm (200,000 records of 100 bytes
     * last about a third of a second).
     */
    static final class ProducerPerformance implements Scenario.ExtraReference {
        static final long MIN_RECORDS = 10_000;
        static final long MAX_WARMUP_RECORDS = 200_000;
        private static final Duration TIMEOUT = Duration.ofMinutes(10);
        /** ProducerPerformance's summary line, e.g. {@code 20000 steady state records sent, 7153.07 records/sec (0.68 MB/sec), ...}. */
        private static final Pattern SUMMARY = Pattern.compile("(\\d+) (steady state )?records sent, ([\\d.]+) records/sec \\(([\\d.]+) MB/sec\\), "
                + "([\\d.]+) ms avg latency, ([\\d.]+) ms max latency, (\\d+) ms 50th, (\\d+) ms 95th, (\\d+) ms 99th, (\\d+) ms 99\\.9th\\.");

        @Override
        public String key() {
            return "producer_performance";
        }

        @Override
        public Map<String, Object> run(Scenario s, long messages) throws Exception {
            long records = Math.max(MIN_RECORDS, messages);
            long warmup = s.publishOnly() ? records : Math.min(MAX_WARMUP_RECORDS, records);
            Path script = Path.of("scripts/perftest-kafka").toAbsolutePath();
            if (!Files.isExecutable(script)) {
                throw new IllegalStateException(script + " not found: run the harness from the repository root (scripts/bench)");
            }
            List<String> command = List.of(script.toString(), "--records", Long.toString(records + warmup),
                    "--size", Integer.toString(s.payloadBytes()), "--partitions", Integer.toString(PARTITIONS),
                    "--linger-ms", Long.toString(LINGER.toMillis()), "--batch-size", Integer.toString(BATCH_SIZE_BYTES),
                    "--compression", COMPRESSION.kafkaName(), "--", "--warmup-records", Long.toString(warmup));
            System.out.println("ProducerPerformance: " + String.join(" ", command.subList(1, command.size())));
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = out.readLine()) != null) {
                        System.out.println("  perftest-kafka: " + line);
                        lines.add(line);
                    }
                } catch (java.io.IOException e) {
                    // the process was destroyed
                }
            }, "perftest-kafka-output");
            reader.setDaemon(true);
            reader.start();
            try {
                if (!p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                    throw new IllegalStateException("scripts/perftest-kafka did not finish within " + TIMEOUT);
                }
                reader.join(5000);
            } finally {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("scripts/perftest-kafka exited with status " + p.exitValue()
                        + (lines.isEmpty() ? "" : ": " + lines.get(lines.size() - 1)));
            }
            Matcher total = null;
            Matcher steady = null;
            synchronized (lines) {
                for (String line : lines) {
                    Matcher m = SUMMARY.matcher(line);
                    if (m.find()) {
                        if (m.group(2) != null) {
                            steady = m;
                        } else {
                            total = m;
                        }
                    }
                }
            }
            Matcher m = steady != null ? steady : total;
            if (m == null) {
                throw new IllegalStateException("scripts/perftest-kafka printed no ProducerPerformance summary line");
            }
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("producer_performance_records", Long.parseLong(m.group(1)));
            r.put("producer_performance_warmup_records", steady != null ? warmup : 0);
            r.put("producer_performance_per_s", (double) Math.round(Double.parseDouble(m.group(3))));
            r.put("producer_performance_mb_per_s", Double.parseDouble(m.group(4)));
            r.put("producer_performance_avg_ms", Double.parseDouble(m.group(5)));
            r.put("producer_performance_max_ms", Double.parseDouble(m.group(6)));
            r.put("producer_performance_p50_ms", Double.parseDouble(m.group(7)));
            r.put("producer_performance_p95_ms", Double.parseDouble(m.group(8)));
            r.put("producer_performance_p99_ms", Double.parseDouble(m.group(9)));
            r.put("producer_performance_p999_ms", Double.parseDouble(m.group(10)));
            r.put("producer_performance_note", "Kafka's ProducerPerformance (kafka-tools " + org.apache.kafka.common.utils.AppInfoParser.getVersion()
                    + "), same producer settings and record size, one thread sending without waiting, no key (sticky partitioner), "
                    + "nothing consumes: its rate is publish-only (compare with courier_publish_per_s) and its latency is send to "
                    + "acknowledgement (MB = 2^20 bytes)");
            System.out.printf(java.util.Locale.ROOT, "ProducerPerformance: %,.0f records/s (%.2f MB/s), p50 %s ms, p99 %s ms (send to ack)%n",
                    Double.parseDouble(m.group(3)), Double.parseDouble(m.group(4)), m.group(7), m.group(9));
            return r;
        }
    }
}
