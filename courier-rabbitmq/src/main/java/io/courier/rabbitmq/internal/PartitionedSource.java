package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import io.courier.CourierException;
import io.courier.SubscriptionOptions;
import io.courier.spi.engine.DeliverySource;
import io.courier.spi.engine.Fetched;
import io.courier.spi.engine.Settled;
import io.courier.spi.engine.SourceContext;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker side of one subscription of a key-ordered group, run by a
 * {@link io.courier.spi.engine.ConsumerEngine}: a consumer on each of the group's partition queues (each
 * declared with {@code x-single-active-consumer}, so the broker lets exactly one subscription of the
 * group consume a partition and keeps the others on standby), one channel per partition with
 * {@code basic.qos} of {@code ceil(maxInFlight / partitions)}. Each delivery goes to the engine in the
 * ordering lane of its key ({@link Fetched#lane()}), so messages of one key run one after another in
 * delivery order while other keys and unkeyed messages run concurrently. A delayed message that arrives
 * before it is due (the delay ladder rounds down) carries its due time ({@link Fetched#notBefore()}):
 * the engine holds it, unacknowledged, and the later messages of its key wait behind it.
 *
 * <p>Settlement is that of {@link RabbitSource}, on the handler's thread: ack after the handler
 * returned; retries and failures are copies published into the same partition queue through the delay
 * ladder.
 *
 * <p><b>Spreading partitions.</b> RabbitMQ 3.x makes the first registered consumer of a queue the active
 * one and ignores consumer priorities with single active consumer, so the first subscription would
 * keep every partition. Every subscription therefore also consumes the group's members queue (whose
 * consumer count is the number of subscriptions), and every {@link #REBALANCE_INTERVAL} a subscription
 * that is active (it received a delivery) on more than {@code ceil(partitions / members)} partitions
 * hands the excess over: it starts no more messages of that partition ({@link #mayStart}), waits for
 * the started ones to be settled, closes the partition's channel (the broker returns the unstarted ones
 * to the head of the queue, in order, and activates the next waiting consumer) and registers again at
 * the end of the line. No message of a partition is ever handled by two subscriptions at once this way.
 *
 * <p><b>Closing.</b> The engine lets the running handlers finish while the consumers stay registered
 * (cancelling first would let the broker activate another subscription while they still run); then
 * {@link #close()} closes the channels, returning every unstarted message to its queue. Recovery: a
 * lost consumer (connection recovery, channel error, cancel) starts none of its deliveries any more and
 * is registered again by the same periodic task.
 */
public final class PartitionedSource implements DeliverySource<PartitionedSource.Received> {

    private static final Logger log = LoggerFactory.getLogger(PartitionedSource.class);

    /** How often a subscription counts the group's members and hands over partitions beyond its share. */
    static final Duration REBALANCE_INTERVAL = Duration.ofMillis(250);
    /** How soon a pending hand-over is checked again. */
    private static final Duration HANDOVER_POLL = Duration.ofMillis(20);

    /**
     * One delivery of a partition queue.
     *
     * @param partition   the partition's index
     * @param epoch       the registration of the partition's consumer that received it
     * @param channel     the partition's channel it arrived on
     * @param deliveryTag the broker's tag for acknowledging it on {@code channel}
     */
    public record Received(int partition, long epoch, Channel channel, long deliveryTag) {
    }

    private final SubscriptionOptions options;
    private final ConnectionWatch connection;
    private final Topology topology;
    private final RabbitPublisher publisher;
    private final ScheduledExecutorService scheduler;
    private final Duration retryInterval;
    private final List<Partition> partitions;
    private final String membersQueue;
    private final int prefetch;
    private final Object lifecycle = new Object();
    private final String tagPrefix;
    private final DeliveryBuffer<Received> buffer = new DeliveryBuffer<>();
    private volatile SourceContext<Received> context;
    private Channel membersChannel;
    private volatile boolean memberRegistered;
    private volatile int members = 1;
    private volatile long nextRetryNanos;
    /** Guarded by {@link #lifecycle}. */
    private boolean closed;
    private volatile ScheduledFuture<?> maintenance;

    /** One partition queue as this subscription consumes it. */
    private final class Partition {
        final int index;
        final String queue;
        Channel channel;
        /** Bumped whenever the current consumer's deliveries must no longer be started (hand-over, loss). */
        final AtomicLong epoch = new AtomicLong();
        /** Deliveries of this partition started and not settled yet. */
        final AtomicInteger running = new AtomicInteger();
        /** A delivery arrived since the current registration: the broker made this consumer the active one. */
        volatile boolean active;
        volatile boolean handingOver;
        /** The consumer is gone (connection recovered, channel error, cancelled) and must be registered again. */
        volatile boolean lost;

        /** Settles this partition's deliveries; retry copies go back into {@link #queue}. */
        final QueueSettler settler;

        Partition(int index, String queue) {
            this.index = index;
            this.queue = queue;
            this.settler = new QueueSettler(publisher, options.topic(), options.group(), queue);
        }
    }

    /**
     * Declares the group's partition queues; {@link #start} consumes them.
     *
     * @throws CourierException (or {@link io.courier.rabbitmq.TopologyMismatchException}) when a queue
     *                          cannot be declared
     */
    public PartitionedSource(SubscriptionOptions options, ConnectionWatch connection, Topology topology,
                             RabbitPublisher publisher, ScheduledExecutorService scheduler, Duration retryInterval) {
        this.options = options;
        this.connection = connection;
        this.topology = topology;
        this.publisher = publisher;
        this.scheduler = scheduler;
        this.retryInterval = retryInterval;
        List<String> queues = topology.declarePartitionedGroup(options.topic(), options.group());
        this.membersQueue = Topology.membersQueue(options.topic(), options.group());
        this.prefetch = Math.max(1, (options.maxInFlight() + queues.size() - 1) / queues.size());
        this.tagPrefix = options.consumerName().orElse("courier") + "-" + UUID.randomUUID().toString().substring(0, 8);
        List<Partition> list = new ArrayList<>(queues.size());
        for (int i = 0; i < queues.size(); i++) {
            list.add(new Partition(i, queues.get(i)));
        }
        this.partitions = List.copyOf(list);
        this.nextRetryNanos = System.nanoTime();
    }

    /**
     * Starts consuming every partition queue and the members queue.
     *
     * @throws CourierException (or {@link io.courier.rabbitmq.TopologyMismatchException}) when a queue
     *                          cannot be consumed
     */
    @Override
    public void start(SourceContext<Received> context) {
        this.context = context;
        try {
            synchronized (lifecycle) {
                for (Partition p : partitions) {
                    consume(p);
                }
                // after the partitions: whoever counts this member can already hand partitions to it
                registerMember();
            }
        } catch (IOException | ShutdownSignalException e) {
            throw Topology.translate("consume the partition queues of group '" + options.group() + "' on topic '"
                    + options.topic() + "'", e);
        }
        this.maintenance = scheduler.scheduleWithFixedDelay(this::maintain, REBALANCE_INTERVAL.toMillis(),
                REBALANCE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Partitions on which this subscription is the active consumer, as far as it knows (it received a delivery). */
    public List<Integer> activePartitions() {
        return partitions.stream().filter(p -> p.active && !p.handingOver && !p.lost).map(p -> p.index).toList();
    }

    private boolean running() {
        SourceContext<Received> c = context;
        return c != null && c.running();
    }

    // ---------------------------------------------------------------------------------------------
    // Consuming
    // ---------------------------------------------------------------------------------------------

    /** Registers a consumer on {@code p}, on a new channel unless the current one is open. Under {@link #lifecycle}. */
    private void consume(Partition p) throws IOException {
        Channel ch = p.channel;
        if (ch == null || !ch.isOpen()) {
            RabbitSource.closeChannelQuietly(ch);
            ch = openChannel(() -> lose(p, "the connection recovered"));
            p.channel = ch;
        }
        ch.basicQos(prefetch);
        long epoch = p.epoch.incrementAndGet();
        p.active = false;
        p.handingOver = false;
        p.lost = false;
        ch.basicConsume(p.queue, false, tagPrefix + "-p" + p.index, false, false, null, new PartitionConsumer(p, ch, epoch));
    }

    private Channel openChannel(Runnable onRecovery) throws IOException {
        Channel ch = connection.connection().createChannel();
        if (ch == null) {
            throw new CourierException("RabbitMQ refused to open another channel on connection '" + connection.name() + "'");
        }
        ((Recoverable) ch).addRecoveryListener(new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
                // the client recovered the channel but not its consumer (topology recovery is Courier's job)
                onRecovery.run();
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {
            }
        });
        return ch;
    }

    /** The consumer of {@code p} is gone: start none of its deliveries, register it again soon. */
    private void lose(Partition p, String why) {
        p.epoch.incrementAndGet();
        p.lost = true;
        log.debug("consumer of '{}' lost ({}); registering it again", p.queue, why);
        triggerMaintenance(Duration.ZERO);
    }

    private final class PartitionConsumer extends DefaultConsumer {
        private final Partition partition;
        private final Channel ch;
        private final long epoch;

        PartitionConsumer(Partition partition, Channel ch, long epoch) {
            super(ch);
            this.partition = partition;
            this.ch = ch;
            this.epoch = epoch;
        }

        @Override
        public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
            if (!running() || partition.epoch.get() != epoch) {
                return;   // left unacknowledged: returns to the queue when the channel closes
            }
            if (!partition.active) {
                partition.active = true;
                triggerMaintenance(Duration.ZERO);   // one more active partition: maybe more than this member's share
            }
            Fetched<Received> f;
            try {
                f = QueueSettler.fetched(new Received(partition.index, epoch, ch, envelope.getDeliveryTag()),
                        envelope, properties, body);
            } catch (RuntimeException e) {
                partition.settler.deadLetterUndecodable(ch, envelope.getDeliveryTag(), properties, body, e);
                return;
            }
            // the key's lane keeps its order, also behind a delayed message held until due
            buffer.add(f.inLane(f.message().key().orElse(null)));
        }

        @Override
        public void handleCancel(String consumerTag) {
            log.warn("RabbitMQ cancelled the consumer of queue '{}' (was it deleted?); consuming again", partition.queue);
            lose(partition, "the broker cancelled the consumer");
        }

        @Override
        public void handleShutdownSignal(String consumerTag, ShutdownSignalException sig) {
            if (running() && !sig.isInitiatedByApplication() && partition.epoch.get() == epoch) {
                lose(partition, sig.getMessage());
            }
        }
    }

    /** Deliveries of a consumer that was lost or handed over since are left out: they return to their queue. */
    @Override
    public List<Fetched<Received>> exchange(List<Settled<Received>> settled, int max, Duration maxWait)
            throws InterruptedException {
        List<Fetched<Received>> taken = buffer.take(max, maxWait);
        List<Fetched<Received>> current = new ArrayList<>(taken.size());
        for (Fetched<Received> f : taken) {
            if (!stale(f.record())) {
                current.add(f);
            }
        }
        return current;
    }

    private boolean stale(Received r) {
        return partitions.get(r.partition()).epoch.get() != r.epoch();
    }

    /**
     * False for a delivery of a consumer that was lost or is being handed over (the broker gives it to
     * the partition's next consumer); otherwise counts it as started until {@link #settle}.
     */
    @Override
    public boolean mayStart(Fetched<Received> fetched) {
        Received r = fetched.record();
        Partition p = partitions.get(r.partition());
        p.running.incrementAndGet();
        // after the increment: a hand-over bumps the epoch first and then waits for running == 0
        if (p.epoch.get() != r.epoch()) {
            p.running.decrementAndGet();
            return false;
        }
        return true;
    }

    /** True: an ack is one cheap frame, written as soon as the handler returned. */
    @Override
    public boolean settlesOnWorker() {
        return true;
    }

    @Override
    public void settle(Settled<Received> s) {
        Fetched<Received> f = s.fetched();
        Partition p = partitions.get(f.record().partition());
        try {
            // a retry copy goes into this partition's queue only: it stays with its key's other messages
            p.settler.settle(f.record().channel(), f.record().deliveryTag(), f.message(), f.attempt(), s.outcome());
        } finally {
            p.running.decrementAndGet();
        }
    }

    /**
     * Leaves the deliveries unacknowledged: closing the channels ({@link #close()}) returns them to the
     * head of their queues, in order, for the partition's next consumer.
     */
    @Override
    public void release(List<Fetched<Received>> unhandled) {
    }

    @Override
    public void wakeUp() {
        buffer.wakeUp();
    }

    // ---------------------------------------------------------------------------------------------
    // Membership, spreading partitions, recovery
    // ---------------------------------------------------------------------------------------------

    /** Consumes the members queue, so that the other subscriptions count this one. Under {@link #lifecycle}. */
    private void registerMember() throws IOException {
        Channel ch = membersChannel;
        if (ch == null || !ch.isOpen()) {
            RabbitSource.closeChannelQuietly(ch);
            ch = openChannel(() -> {
                memberRegistered = false;
                triggerMaintenance(Duration.ZERO);
            });
            membersChannel = ch;
        }
        Topology.declareMembersQueue(ch, membersQueue);
        ch.basicConsume(membersQueue, true, tagPrefix + "-member", false, false, null, new DefaultConsumer(ch) {
            @Override
            public void handleCancel(String consumerTag) {
                memberRegistered = false;
            }

            @Override
            public void handleShutdownSignal(String consumerTag, ShutdownSignalException sig) {
                memberRegistered = false;
            }
        });
        memberRegistered = true;
    }

    private void triggerMaintenance(Duration delay) {
        if (!running()) {
            return;
        }
        try {
            scheduler.schedule(this::maintain, delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("not maintaining consumers of '{}': transport closing", membersQueue);
        }
    }

    /**
     * Registers lost consumers again, finishes hand-overs whose handlers are done, counts the members
     * and starts handing over the partitions beyond this subscription's share.
     */
    private void maintain() {
        boolean pending = false;
        synchronized (lifecycle) {
            if (closed || !running()) {
                return;
            }
            try {
                if (!connection.isOpen() || System.nanoTime() - nextRetryNanos < 0) {
                    return;   // the client is still recovering the connection, or a failed attempt is too recent
                }
                if (partitions.stream().anyMatch(p -> p.lost)) {
                    // declared again if a failure cleared the cache (the queues may have been deleted)
                    topology.declarePartitionedGroup(options.topic(), options.group());
                }
                for (Partition p : partitions) {
                    if (p.lost) {
                        consume(p);
                        log.info("consuming queue '{}' again", p.queue);
                    }
                }
                if (!memberRegistered) {
                    registerMember();
                }
                int counted = membersChannel.queueDeclarePassive(membersQueue).getConsumerCount();
                members = Math.max(1, counted);
                int share = (partitions.size() + members - 1) / members;
                List<Partition> active = partitions.stream().filter(p -> p.active && !p.handingOver && !p.lost).toList();
                for (int i = active.size() - 1; i >= share; i--) {
                    Partition p = active.get(i);
                    p.handingOver = true;
                    p.epoch.incrementAndGet();   // no further delivery of this consumer is started
                    log.debug("handing partition queue '{}' over: active on {} partitions, share {} of {} members",
                            p.queue, active.size(), share, members);
                }
                for (Partition p : partitions) {
                    if (p.handingOver && !p.lost) {
                        if (p.running.get() == 0) {
                            handOver(p);
                        } else {
                            pending = true;
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                log.warn("cannot maintain the consumers of group '{}' on topic '{}' ({}); trying again in {}",
                        options.group(), options.topic(), e.toString(), retryInterval);
                nextRetryNanos = System.nanoTime() + retryInterval.toNanos();
                topology.invalidate();
                for (Partition p : partitions) {
                    if (p.channel == null || !p.channel.isOpen()) {
                        p.lost = true;
                    }
                }
                if (membersChannel == null || !membersChannel.isOpen()) {
                    memberRegistered = false;
                }
            }
        }
        if (pending) {
            triggerMaintenance(HANDOVER_POLL);
        }
    }

    /**
     * Closes {@code p}'s channel, which returns its unstarted messages to the head of the queue and lets
     * the broker activate the next waiting consumer, then registers at the end of the line.
     */
    private void handOver(Partition p) throws IOException {
        RabbitSource.closeChannelQuietly(p.channel);
        p.channel = null;
        consume(p);
    }

    @Override
    public void close() {
        ScheduledFuture<?> m = maintenance;
        if (m != null) {
            m.cancel(false);
        }
        synchronized (lifecycle) {
            closed = true;
            for (Partition p : partitions) {
                RabbitSource.closeChannelQuietly(p.channel);
            }
            RabbitSource.closeChannelQuietly(membersChannel);
        }
    }
}
