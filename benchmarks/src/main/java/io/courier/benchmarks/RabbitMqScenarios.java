package io.courier.benchmarks;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.impl.ClientVersion;
import io.courier.Message;
import io.courier.Publisher;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.RabbitMqTransport;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * RabbitMQ (127.0.0.1:5672, guest/guest): {@code RabbitMqTransport} against plain
 * {@code com.rabbitmq:amqp-client} code doing the same durable work with the same settings.
 *
 * <p>Both sides: a durable {@code topic} exchange per phase and one durable queue for the group bound
 * to it with {@code #}; persistent messages published with {@code mandatory}; publisher confirms,
 * enabled once per channel and tracked by delivery tag; a publish call returns once the broker
 * confirmed its whole batch; one connection for publishing and one for consuming; the consumer is one
 * channel with {@code basic.qos(PREFETCH)}, its deliveries handed to {@code CONCURRENCY} worker threads,
 * each message acknowledged on its own after the callback returned; every message carries a message
 * id, the AMQP timestamp and its exact publish time in a header (Courier: {@code courier-timestamp},
 * raw: {@code ts}), as an application that traces its messages sends them. The raw side uses one channel per
 * publishing thread, Courier a pool with as many channels as there are publishing threads.
 * Every phase declares fresh names and deletes them in {@link Pipeline#close()}.
 *
 * <p>RabbitMQ PerfTest is the second reference, run outside the harness by
 * {@code scripts/perftest-rabbitmq} with the same settings.
 */
final class RabbitMqScenarios {

    static final String HOST = "127.0.0.1";
    static final int PORT = 5672;
    static final String USER = "guest";
    static final String PASSWORD = "guest";

    /** Publishing threads; each waits for the confirms of its batch before it publishes the next. */
    static final int PUBLISHERS = 32;
    /** Messages per publish in the throughput phase: also the confirms a publisher has outstanding at most. */
    static final int BATCH = 10;
    /** Consumer worker threads. */
    static final int CONCURRENCY = 4;
    /** {@code basic.qos} of the consumer channel (Courier: {@code SubscriptionOptions.maxInFlight}). */
    static final int PREFETCH = 200;

    /** Seconds of each unmeasured warm-up phase, run once before the first RabbitMQ scenario. */
    static final int WARM_UP_SECONDS = 3;

    private static final String GROUP = "g";
    private static final String SETTINGS = PUBLISHERS + " publishers x " + BATCH + " per confirmed batch, "
            + CONCURRENCY + " consumer threads, prefetch " + PREFETCH;

    private static boolean warmedUp;

    private RabbitMqScenarios() {
    }

    static List<Scenario> scenarios() {
        return List.of(scenario(100, "100b"), scenario(1024, "1k"));
    }

    private static Scenario scenario(int payloadBytes, String suffix) {
        String name = "rabbitmq-e2e-" + suffix;
        String description = "RabbitMQ, persistent + publisher confirms + mandatory, manual ack, " + payloadBytes
                + "-byte payloads, " + SETTINGS;
        String reference = "raw amqp-client " + ClientVersion.VERSION + ", same settings";
        Scenario plain = new Scenario(name, description, reference, payloadBytes, PUBLISHERS, BATCH,
                CourierRabbit::new, RawRabbit::new);
        return new Scenario(name, description, reference, payloadBytes, PUBLISHERS, BATCH,
                warmingUp(plain, plain.courier()), warmingUp(plain, plain.raw()));
    }

    /**
     * Runs {@code factory} after a one-time warm-up: the first measured phase of the run would
     * otherwise be Courier's, paying alone for JIT compilation of the client, the broker connection
     * setup paths and Courier's own code.
     */
    private static Scenario.PipelineFactory warmingUp(Scenario plain, Scenario.PipelineFactory factory) {
        return runId -> {
            warmUpOnce(plain);
            return factory.create(runId);
        };
    }

    private static synchronized void warmUpOnce(Scenario plain) throws Exception {
        if (warmedUp) {
            return;
        }
        warmedUp = true;
        System.out.printf("warm-up: %d s throughput and %d s at 200 msg/s, Courier and raw, not measured%n",
                WARM_UP_SECONDS, WARM_UP_SECONDS);
        for (Scenario.PipelineFactory f : List.of(plain.courier(), plain.raw())) {
            Driver.throughput(plain, f, WARM_UP_SECONDS);
            Driver.latency(plain, f, WARM_UP_SECONDS, 200);
        }
    }

    /** The names one phase uses: exchange {@code bench-<runId>}, queue {@code bench-<runId>.g} (Courier's naming). */
    private static String topic(String runId) {
        return "bench-" + runId;
    }

    private static ConnectionFactory factory() {
        ConnectionFactory f = new ConnectionFactory();
        f.setHost(HOST);
        f.setPort(PORT);
        f.setUsername(USER);
        f.setPassword(PASSWORD);
        return f;
    }

    /** Deletes a phase's queue and exchange on a connection of its own. */
    private static void deleteTopology(String queue, String exchange) throws IOException, TimeoutException {
        try (Connection c = factory().newConnection("courier-bench-cleanup"); Channel ch = c.createChannel()) {
            ch.queueDelete(queue);
            ch.exchangeDelete(exchange);
        }
    }

    /** Courier: {@link RabbitMqTransport} used through a {@link Router}, as an application would. */
    private static final class CourierRabbit implements Pipeline {
        private final String topic;
        private final RabbitMqTransport transport;
        private final Router router;
        private final Publisher publisher;

        CourierRabbit(String runId) {
            this.topic = topic(runId);
            this.transport = RabbitMqTransport.connect(RabbitMqConfig.builder()
                    .host(HOST).port(PORT).credentials(USER, PASSWORD)
                    .connectionName("courier-bench")
                    .publisherChannels(PUBLISHERS)
                    .declareGroups(topic, GROUP)
                    .build());
            this.router = Router.builder(transport).build();
            this.publisher = router.publisher();
        }

        @Override
        public void start(Consumer<byte[]> onMessage) {
            router.route(SubscriptionOptions.builder(topic, GROUP).concurrency(CONCURRENCY).maxInFlight(PREFETCH).build(),
                    d -> onMessage.accept(d.message().payload())).start();
        }

        @Override
        public void publish(List<byte[]> batch) {
            if (batch.size() == 1) {
                publisher.publish(topic, Message.of(batch.get(0))).join();
                return;
            }
            List<Message> messages = new ArrayList<>(batch.size());
            for (byte[] b : batch) {
                messages.add(Message.of(b));
            }
            publisher.publishAll(topic, messages).join();
        }

        @Override
        public void close() throws Exception {
            try {
                router.close();
                transport.close();
            } finally {
                deleteTopology(RabbitMqConfig.groupQueueName(topic, GROUP), topic);
            }
        }
    }

    /**
     * The same work written directly on amqp-client: the publisher-confirms pattern of the RabbitMQ
     * documentation (outstanding messages in a sorted map by sequence number, cleared by the confirm
     * listener), one confirm-mode channel per publishing thread.
     */
    private static final class RawRabbit implements Pipeline {
        private static final long CONFIRM_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

        private final String exchange;
        private final String queue;
        private final Connection publishing;
        private final Connection consuming;
        private final ThreadLocal<ConfirmChannel> channels;
        private final List<ConfirmChannel> allChannels = new CopyOnWriteArrayList<>();
        private final ExecutorService workers;
        private Channel consumerChannel;

        RawRabbit(String runId) throws IOException, TimeoutException {
            this.exchange = topic(runId);
            this.queue = RabbitMqConfig.groupQueueName(exchange, GROUP);
            ConnectionFactory f = factory();
            this.publishing = f.newConnection("raw-bench-publisher");
            this.consuming = f.newConnection("raw-bench-consumer");
            try (Channel ch = publishing.createChannel()) {
                ch.exchangeDeclare(exchange, "topic", true, false, null);
                ch.queueDeclare(queue, true, false, false, null);
                ch.queueBind(queue, exchange, "#");
            }
            this.channels = ThreadLocal.withInitial(this::newConfirmChannel);
            AtomicInteger n = new AtomicInteger();
            this.workers = Executors.newFixedThreadPool(CONCURRENCY, r -> {
                Thread t = new Thread(r, "raw-bench-worker-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }

        private ConfirmChannel newConfirmChannel() {
            try {
                ConfirmChannel c = new ConfirmChannel(publishing.createChannel());
                allChannels.add(c);
                return c;
            } catch (IOException e) {
                throw new IllegalStateException("cannot open a publishing channel", e);
            }
        }

        @Override
        public void start(Consumer<byte[]> onMessage) throws IOException {
            Channel ch = consuming.createChannel();
            ch.basicQos(PREFETCH);
            ch.basicConsume(queue, false, new DefaultConsumer(ch) {
                @Override
                public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
                    workers.execute(() -> {
                        onMessage.accept(body);
                        try {
                            ch.basicAck(envelope.getDeliveryTag(), false);
                        } catch (IOException e) {
                            throw new IllegalStateException("ack failed", e);
                        }
                    });
                }
            });
            consumerChannel = ch;
        }

        @Override
        public void publish(List<byte[]> batch) throws Exception {
            channels.get().publishAndAwaitConfirms(batch);
        }

        @Override
        public void close() throws Exception {
            try {
                if (consumerChannel != null) {
                    consumerChannel.close();
                }
                workers.shutdown();
                workers.awaitTermination(10, TimeUnit.SECONDS);
                publishing.close();
                consuming.close();
            } finally {
                deleteTopology(queue, exchange);
            }
        }

        /** A confirm-mode channel owned by one publishing thread. */
        private final class ConfirmChannel {
            private final Channel channel;
            private final ConcurrentNavigableMap<Long, Boolean> outstanding = new ConcurrentSkipListMap<>();
            private volatile String failure;

            ConfirmChannel(Channel channel) throws IOException {
                this.channel = channel;
                channel.confirmSelect();
                channel.addConfirmListener((tag, multiple) -> settle(tag, multiple, null),
                        (tag, multiple) -> settle(tag, multiple, "nacked by the broker"));
                channel.addReturnListener(r -> failure = "returned unroutable: " + r.getReplyText());
            }

            private void settle(long tag, boolean multiple, String error) {
                if (error != null) {
                    failure = error;
                }
                if (multiple) {
                    outstanding.headMap(tag, true).clear();
                } else {
                    outstanding.remove(tag);
                }
                if (outstanding.isEmpty()) {
                    synchronized (this) {
                        notifyAll();
                    }
                }
            }

            void publishAndAwaitConfirms(List<byte[]> batch) throws IOException, InterruptedException {
                for (byte[] body : batch) {
                    outstanding.put(channel.getNextPublishSeqNo(), Boolean.TRUE);
                    // What an application that can trace its messages sends, and what Courier sends: a
                    // message id, the AMQP timestamp and the exact publish time in a header.
                    Instant now = Instant.now();
                    AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                            .deliveryMode(2)
                            .messageId(UUID.randomUUID().toString())
                            .timestamp(Date.from(now))
                            .headers(Map.of("ts", now.toString()))
                            .build();
                    channel.basicPublish(exchange, exchange, true, props, body);
                }
                long deadline = System.nanoTime() + CONFIRM_TIMEOUT_NANOS;
                synchronized (this) {
                    while (!outstanding.isEmpty()) {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            throw new IllegalStateException(outstanding.size() + " messages not confirmed within 10 s");
                        }
                        TimeUnit.NANOSECONDS.timedWait(this, left);
                    }
                }
                if (failure != null) {
                    throw new IllegalStateException("publish failed: " + failure);
                }
            }
        }
    }
}
