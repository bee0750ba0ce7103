package io.courier.benchmarks;

import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.redis.RedisConfig;
import io.courier.redis.RedisStreamsTransport;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.Consumer;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanIterator;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.XAddArgs;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.protocol.RedisCommand;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Redis Streams: Courier's {@link RedisStreamsTransport} behind a {@link Router} against raw Lettuce
 * code doing the same durable work, on the Redis at {@value #URI}.
 *
 * <p>Settings, identical on both sides:
 * <ul>
 *   <li>Client: Lettuce, {@code ByteArrayCodec}, the same {@link ClientOptions} as Courier's
 *       (auto-reconnect, per-command timeout 10 s, TCP keep-alive, connect timeout 10 s).</li>
 *   <li>Publishing: {@code publishers} threads share one connection. A batch is written as pipelined
 *       {@code XADD <stream> * id <uuid> ts <ISO-8601 instant> payload <bytes>}, all commands of the
 *       batch in one write ({@code StatefulConnection.dispatch(List)}), and the call returns when every
 *       reply is in (= in Redis's memory: the durability Courier's publish future promises). A batch of
 *       one is a single {@code XADD}. No trimming, no {@code WAIT}.</li>
 *   <li>Consuming: group {@code g} created at {@code 0} with {@code MKSTREAM} before the first publish;
 *       one reader thread on a connection of its own runs {@code XREADGROUP GROUP g <consumer> COUNT
 *       min(free in-flight slots, 100) BLOCK 1000 STREAMS ... >}; at most {@value #MAX_IN_FLIGHT}
 *       entries fetched and not yet acknowledged; {@value #CONCURRENCY} worker threads call the consumer
 *       with the payload, then acknowledge the entry on a second, shared connection. Acknowledgements
 *       are batched the same way on both sides: one {@code XACK} in flight per stream, the ids that
 *       arrive meanwhile go in the next one (at most 500); the in-flight slots are freed when the
 *       {@code XACK} reply is in.</li>
 * </ul>
 *
 * <p>What differs is what each side does on top. Courier: its {@code XREADGROUP} also reads the
 * group's retry stream; it runs {@code XAUTOCLAIM} on both streams every 2 s and the delayed-message
 * mover (a Lua script per sorted set) every 200 ms; it decodes every entry into a {@link Message}
 * (id, timestamp, headers, payload copied) and calls the handler through the router; it tracks the
 * entries in flight by id. The raw side only picks the {@code payload} field out of the entry.
 * Each phase uses fresh keys (a per-phase key prefix) and deletes them on close.
 */
final class RedisScenarios {

    static final String URI = "redis://127.0.0.1:6379";
    static final int CONCURRENCY = 4;
    static final int MAX_IN_FLIGHT = 200;
    static final int READ_BATCH = 100;
    static final Duration BLOCK = Duration.ofSeconds(1);
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
    static final int PUBLISHERS = 2;
    static final int BATCH = 100;
    /**
     * Latency is measured at no more than this rate: the latency phase publishes one message per
     * synchronous call from {@value #PUBLISHERS} threads, and a round trip to Redis on a busy machine
     * can take a millisecond, so higher rates would measure the publishers' queue, not the transport.
     */
    static final double LATENCY_RATE = 1000;
    private static final String TOPIC = "bench";
    private static final String GROUP = "g";

    private RedisScenarios() {
    }

    static List<Scenario> scenarios() {
        String reference = "raw Lettuce: pipelined XADD, XREADGROUP, batched XACK";
        return List.of(
                new Scenario("redis-e2e-100b", "Redis Streams, 100-byte payloads, 4 consumer threads, 200 in flight",
                        reference, 100, PUBLISHERS, BATCH, CourierRedis::new, RawLettuce::new, LATENCY_RATE),
                new Scenario("redis-e2e-1k", "Redis Streams, 1 KiB payloads, 4 consumer threads, 200 in flight",
                        reference, 1024, PUBLISHERS, BATCH, CourierRedis::new, RawLettuce::new, LATENCY_RATE));
    }

    /** The client options Courier's {@code RedisContext} uses, for the raw side. */
    private static ClientOptions clientOptions() {
        return ClientOptions.builder()
                .autoReconnect(true)
                .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT))
                .socketOptions(SocketOptions.builder().connectTimeout(COMMAND_TIMEOUT).keepAlive(true).build())
                .build();
    }

    private static ClientResources clientResources() {
        return DefaultClientResources.builder()
                .reconnectDelay(Delay.exponential(Duration.ofMillis(50), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
    }

    /** Deletes every key matching {@code pattern} (SCAN + DEL). */
    static void deleteKeys(String pattern) {
        ClientResources resources = DefaultClientResources.create();
        RedisClient client = RedisClient.create(resources, URI);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            List<String> keys = new ArrayList<>();
            ScanIterator.scan(c.sync(), ScanArgs.Builder.matches(pattern).limit(1000)).forEachRemaining(keys::add);
            if (!keys.isEmpty()) {
                c.sync().del(keys.toArray(new String[0]));
            }
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            resources.shutdown(0, 2, TimeUnit.SECONDS);
        }
    }

    private static final class CourierRedis implements Pipeline {
        private final String keyPrefix;
        private final RedisStreamsTransport transport;
        private final Router router;

        CourierRedis(String runId) {
            this.keyPrefix = "bench-courier-" + runId + ":";
            this.transport = RedisStreamsTransport.create(RedisConfig.builder()
                    .uri(URI)
                    .keyPrefix(keyPrefix)
                    .readBatchSize(READ_BATCH)
                    .blockTimeout(BLOCK)
                    .commandTimeout(COMMAND_TIMEOUT)
                    .build());
            this.router = Router.builder(transport).build();
        }

        @Override
        public void start(java.util.function.Consumer<byte[]> onMessage) {
            router.route(SubscriptionOptions.builder(TOPIC, GROUP).concurrency(CONCURRENCY).maxInFlight(MAX_IN_FLIGHT).build(),
                    d -> onMessage.accept(d.message().payload())).start();
        }

        @Override
        public void publish(List<byte[]> batch) {
            if (batch.size() == 1) {
                router.publisher().publish(TOPIC, Message.of(batch.get(0))).join();
                return;
            }
            List<Message> messages = new ArrayList<>(batch.size());
            for (byte[] b : batch) {
                messages.add(Message.of(b));
            }
            router.publisher().publishAll(TOPIC, messages).join();
        }

        @Override
        public void close() {
            try {
                router.close();
                transport.close();
            } finally {
                deleteKeys(keyPrefix + "*");
            }
        }
    }

    private static final class RawLettuce implements Pipeline {
        private static final byte[] ID = bytes("id");
        private static final byte[] TS = bytes("ts");
        private static final byte[] PAYLOAD = bytes("payload");

        private final byte[] stream;
        private final byte[] group = bytes(GROUP);
        private final Consumer<byte[]> consumer = Consumer.from(group, bytes("raw-consumer"));
        private final ClientResources resources = clientResources();
        private final RedisClient client;
        private final StatefulRedisConnection<byte[], byte[]> publishing;
        private final StatefulRedisConnection<byte[], byte[]> control;
        private final StatefulRedisConnection<byte[], byte[]> reading;
        private final Semaphore slots = new Semaphore(MAX_IN_FLIGHT);
        private final LinkedBlockingQueue<StreamMessage<byte[], byte[]>> ready = new LinkedBlockingQueue<>();
        private final ConcurrentLinkedQueue<String> acks = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean acking = new AtomicBoolean();
        private final List<Thread> threads = new ArrayList<>();
        private volatile boolean running = true;

        RawLettuce(String runId) {
            this.stream = bytes("bench-raw-" + runId + ":{" + TOPIC + "}");
            this.client = RedisClient.create(resources, RedisURI.create(URI));
            client.setOptions(clientOptions());
            this.publishing = client.connect(ByteArrayCodec.INSTANCE);
            this.control = client.connect(ByteArrayCodec.INSTANCE);
            this.reading = client.connect(ByteArrayCodec.INSTANCE);
        }

        @Override
        public void start(java.util.function.Consumer<byte[]> onMessage) {
            control.sync().xgroupCreate(XReadArgs.StreamOffset.from(stream, "0"), group, XGroupCreateArgs.Builder.mkstream());
            Thread reader = new Thread(this::readLoop, "raw-redis-reader");
            threads.add(reader);
            for (int i = 0; i < CONCURRENCY; i++) {
                threads.add(new Thread(() -> workLoop(onMessage), "raw-redis-worker-" + i));
            }
            for (Thread t : threads) {
                t.setDaemon(true);
                t.start();
            }
        }

        private void readLoop() {
            try {
                while (running) {
                    // Like Courier: wait for a free slot, then ask for no more than the free slots.
                    if (!slots.tryAcquire(BLOCK.toMillis(), TimeUnit.MILLISECONDS)) {
                        continue;
                    }
                    slots.release();
                    int count = Math.min(slots.availablePermits(), READ_BATCH);
                    List<StreamMessage<byte[], byte[]>> entries = reading.sync().xreadgroup(consumer,
                            XReadArgs.Builder.block(BLOCK).count(count), XReadArgs.StreamOffset.lastConsumed(stream));
                    for (StreamMessage<byte[], byte[]> e : entries) {
                        slots.acquire();
                        ready.add(e);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                if (running) {
                    throw e;
                }
            }
        }

        private void workLoop(java.util.function.Consumer<byte[]> onMessage) {
            while (running) {
                StreamMessage<byte[], byte[]> e;
                try {
                    e = ready.poll(100, TimeUnit.MILLISECONDS);
                } catch (InterruptedException ie) {
                    return;
                }
                if (e == null) {
                    continue;
                }
                onMessage.accept(payloadOf(e.getBody()));
                ack(e.getId());
            }
        }

        /** XACK batching as Courier does it: one XACK in flight; the ids that arrive meanwhile go in the next. */
        private void ack(String id) {
            acks.add(id);
            flushAcks();
        }

        private void flushAcks() {
            while (!acks.isEmpty() && acking.compareAndSet(false, true)) {
                List<String> ids = new ArrayList<>();
                String next;
                while (ids.size() < 500 && (next = acks.poll()) != null) {
                    ids.add(next);
                }
                if (ids.isEmpty()) {
                    acking.set(false);
                    continue;
                }
                control.async().xack(stream, group, ids.toArray(new String[0])).whenComplete((n, error) -> {
                    slots.release(ids.size());
                    acking.set(false);
                    flushAcks();
                });
                return;
            }
        }

        private static byte[] payloadOf(Map<byte[], byte[]> body) {
            for (Map.Entry<byte[], byte[]> f : body.entrySet()) {
                if (Arrays.equals(f.getKey(), PAYLOAD)) {
                    return f.getValue();
                }
            }
            throw new IllegalStateException("entry without payload");
        }

        @Override
        public void publish(List<byte[]> batch) throws Exception {
            if (batch.size() == 1) {
                publishing.async().xadd(stream, new XAddArgs(), fields(batch.get(0))).get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                return;
            }
            List<AsyncCommand<byte[], byte[], String>> commands = new ArrayList<>(batch.size());
            for (byte[] payload : batch) {
                CommandArgs<byte[], byte[]> args = new CommandArgs<>(ByteArrayCodec.INSTANCE).addKey(stream).add("*");
                byte[][] fields = fields(payload);
                for (int i = 0; i < fields.length; i += 2) {
                    args.addKey(fields[i]).addValue(fields[i + 1]);
                }
                commands.add(new AsyncCommand<>(new Command<>(CommandType.XADD, new StatusOutput<>(ByteArrayCodec.INSTANCE), args)));
            }
            publishing.dispatch(new ArrayList<RedisCommand<byte[], byte[], ?>>(commands));
            CompletableFuture.allOf(commands.toArray(new CompletableFuture<?>[0])).get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }

        private static byte[][] fields(byte[] payload) {
            return new byte[][] {ID, bytes(UUID.randomUUID().toString()), TS, bytes(Instant.now().toString()), PAYLOAD, payload};
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            reading.closeAsync();   // ends a blocked XREADGROUP at once
            for (Thread t : threads) {
                t.join(5000);
            }
            try {
                control.sync().del(stream);
            } finally {
                publishing.close();
                control.close();
                client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
                resources.shutdown(0, 2, TimeUnit.SECONDS);
            }
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
