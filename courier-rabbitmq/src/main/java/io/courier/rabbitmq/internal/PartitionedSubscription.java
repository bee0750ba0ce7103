package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import com.rabbitmq.client.ShutdownSignalException;
import io.courier.CourierException;
import io.courier.Handler;
import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.BasicDelivery;
import io.courier.spi.ConsumerThreads;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One subscription of a key-ordered group: a consumer on each of the group's partition queues (each
 * declared with {@code x-single-active-consumer}, so the broker lets exactly one subscription of the
 * group consume a partition and keeps the others on standby), one channel per partition with
 * {@code basic.qos} of {@code ceil(maxInFlight / partitions)}, and {@code concurrency} worker threads.
 * Messages of one key run one after another in delivery order ({@link KeyLanes}); other keys and
 * unkeyed messages run concurrently. A delayed message that arrives before it is due (the delay ladder
 * rounds down) is held, unacknowledged, until due, and the later messages of its key wait behind it.
 *
 * <p>Settlement is that of {@link RabbitSubscription}: ack after the handler returned; retries and
 * failures are copies published into the same partition queue through the delay ladder.
 *
 * <p><b>Spreading partitions.</b> RabbitMQ 3.x makes the first registered consumer of a queue the active
 * one and ignores consumer priorities with single active consumer, so the first subscription would
 * keep every partition. Every subscription therefore also consumes the group's members queue (whose
 * consumer count is the number of subscriptions), and every {@link #REBALANCE_INTERVAL} a subscription
 * that is active (it received a delivery) on more than {@code ceil(partitions / members)} partitions
 * hands the excess over: it stops starting messages of that partition, waits for the running ones to
 * be settled, closes the partition's channel (the broker returns the unstarted ones to the head of the
 * queue, in order, and activates the next waiting consumer) and registers again at the end of the line.
 * No message of a partition is ever handled by two subscriptions at once this way.
 *
 * <p><b>Closing</b> keeps the consumers registered until the running handlers finished (cancelling
 * first would let the broker activate another subscription while they still run), then closes the
 * channels, returning every unstarted message to its queue. Recovery: a lost consumer (connection
 * recovery, channel error, cancel) is registered again by the same periodic task.
 */
public final class PartitionedSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(PartitionedSubscription.class);

    /** How often a subscription counts the group's members and hands over partitions beyond its share. */
    static final Duration REBALANCE_INTERVAL = Duration.ofMillis(250);
    /** How soon a pending hand-over is checked again. */
    private static final Duration HANDOVER_POLL = Duration.ofMillis(20);

    private final SubscriptionOptions options;
    private final Handler handler;
    private final ConnectionWatch connection;
    private final Topology topology;
    private final RabbitPublisher publisher;
    private final ScheduledExecutorService scheduler;
    private final Duration retryInterval;
    private final Consumer<PartitionedSubscription> onClosed;
    private final ThreadPoolExecutor workers;
    private final KeyLanes lanes;
    private final List<Partition> partitions;
    private final String membersQueue;
    private final int prefetch;
    private final Object lifecycle = new Object();
    private final String tagPrefix;
    private Channel membersChannel;
    private volatile boolean memberRegistered;
    private volatile int members = 1;
    private volatile boolean running = true;
    private volatile boolean abandoning;
    private volatile long nextRetryNanos;
    private boolean closed;
    private final ScheduledFuture<?> maintenance;

    /** One partition queue as this subscription consumes it. */
    private final class Partition {
        final int index;
        final String queue;
        Channel channel;
        /** Bumped whenever the current consumer's deliveries must no longer be started (hand-over, loss). */
        final AtomicLong epoch = new AtomicLong();
        /** Handlers of this partition started and not settled yet. */
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
            this.settler = new QueueSettler(publisher, options.topic(), queue);
        }
    }

    /**
     * Declares the group's partition queues and starts consuming all of them.
     *
     * @throws CourierException (or {@link io.courier.rabbitmq.TopologyMismatchException}) when a queue
     *                          cannot be declared or consumed
     */
    public PartitionedSubscription(SubscriptionOptions options, Handler handler, ConnectionWatch connection, Topology topology,
                                   RabbitPublisher publisher, ScheduledExecutorService scheduler, ScheduledExecutorService timer,
                                   Duration retryInterval, Consumer<PartitionedSubscription> onClosed) {
        this.options = options;
        this.handler = handler;
        this.connection = connection;
        this.topology = topology;
        this.publisher = publisher;
        this.scheduler = scheduler;
        this.retryInterval = retryInterval;
        this.onClosed = onClosed;
        List<String> queues = topology.declarePartitionedGroup(options.topic(), options.group());
        this.membersQueue = Topology.membersQueue(options.topic(), options.group());
        this.prefetch = Math.max(1, (options.maxInFlight() + queues.size() - 1) / queues.size());
        this.tagPrefix = options.consumerName().orElse("courier") + "-" + UUID.randomUUID().toString().substring(0, 8);
        List<Partition> list = new ArrayList<>(queues.size());
        for (int i = 0; i < queues.size(); i++) {
            list.add(new Partition(i, queues.get(i)));
        }
        this.partitions = List.copyOf(list);
        this.workers = new ThreadPoolExecutor(options.concurrency(), options.concurrency(), 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), ConsumerThreads.factory("courier-rabbitmq-" + options.topic() + "-" + options.group()));
        this.lanes = new KeyLanes(workers, timer);
        this.nextRetryNanos = System.nanoTime();
        try {
            synchronized (lifecycle) {
                for (Partition p : partitions) {
                    consume(p);
                }
                // after the partitions: whoever counts this member can already hand partitions to it
                registerMember();
            }
        } catch (IOException | ShutdownSignalException e) {
            closeChannels();
            workers.shutdownNow();
            throw Topology.translate("consume the partition queues of group '" + options.group() + "' on topic '" + options.topic() + "'", e);
        } catch (RuntimeException e) {
            closeChannels();
            workers.shutdownNow();
            throw e;
        }
        this.maintenance = scheduler.scheduleWithFixedDelay(this::maintain, REBALANCE_INTERVAL.toMillis(),
                REBALANCE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The partition queues this subscription consumes, by partition. */
    public List<String> queues() {
        return partitions.stream().map(p -> p.queue).toList();
    }

    /** Partitions on which this subscription is the active consumer, as far as it knows (it received a delivery). */
    public List<Integer> activePartitions() {
        return partitions.stream().filter(p -> p.active && !p.handingOver && !p.lost).map(p -> p.index).toList();
    }

    // ---------------------------------------------------------------------------------------------
    // Consuming
    // ---------------------------------------------------------------------------------------------

    /** Registers a consumer on {@code p}, on a new channel unless the current one is open. Under {@link #lifecycle}. */
    private void consume(Partition p) throws IOException {
        Channel ch = p.channel;
        if (ch == null || !ch.isOpen()) {
            closeQuietly(ch);
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
            if (!running || partition.epoch.get() != epoch) {
                return;   // left unacknowledged: returns to the queue when the channel closes
            }
            if (!partition.active) {
                partition.active = true;
                triggerMaintenance(Duration.ZERO);   // one more active partition: maybe more than this member's share
            }
            Message message;
            try {
                message = MessageMapping.fromAmqp(properties, body);
            } catch (RuntimeException e) {
                message = null;   // process() maps it again and reports the failure through the handler path
            }
            String key = message == null ? null : message.key().orElse(null);
            Message parsed = message;
            // a delayed message that arrived before due is held in its key's lane, keeping the key's order
            lanes.submit(key, QueueSettler.holdUntil(properties),
                    () -> process(partition, ch, epoch, envelope, properties, body, parsed));
        }

        @Override
        public void handleCancel(String consumerTag) {
            log.warn("RabbitMQ cancelled the consumer of queue '{}' (was it deleted?); consuming again", partition.queue);
            lose(partition, "the broker cancelled the consumer");
        }

        @Override
        public void handleShutdownSignal(String consumerTag, ShutdownSignalException sig) {
            if (running && !sig.isInitiatedByApplication() && partition.epoch.get() == epoch) {
                lose(partition, sig.getMessage());
            }
        }
    }

    private void process(Partition p, Channel ch, long epoch, Envelope envelope, AMQP.BasicProperties properties, byte[] body,
                         Message parsed) {
        p.running.incrementAndGet();
        try {
            // after the increment: a hand-over bumps the epoch first and then waits for running == 0
            if (!running || p.epoch.get() != epoch) {
                return;   // not started: returns to the queue when the channel closes
            }
            Message message = parsed != null ? parsed : MessageMapping.fromAmqp(properties, body);
            int attempt = QueueSettler.attempt(envelope, properties);
            BasicDelivery delivery = new BasicDelivery(message, options.topic(), options.group(), attempt);
            Outcome outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
            if (abandoning || Thread.currentThread().isInterrupted()) {
                return;   // close timed out: leave it unacknowledged, it is redelivered
            }
            // a retry copy goes into this partition's queue only: it stays with its key's other messages
            p.settler.settle(ch, envelope.getDeliveryTag(), message, attempt, outcome);
        } finally {
            p.running.decrementAndGet();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Membership, spreading partitions, recovery
    // ---------------------------------------------------------------------------------------------

    /** Consumes the members queue, so that the other subscriptions count this one. Under {@link #lifecycle}. */
    private void registerMember() throws IOException {
        Channel ch = membersChannel;
        if (ch == null || !ch.isOpen()) {
            closeQuietly(ch);
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
        if (!running) {
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
            if (closed || !running) {
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
        closeQuietly(p.channel);
        p.channel = null;
        consume(p);
    }

    // ---------------------------------------------------------------------------------------------
    // Subscription
    // ---------------------------------------------------------------------------------------------

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
        synchronized (lifecycle) {
            if (closed) {
                return;
            }
            closed = true;
            running = false;
        }
        maintenance.cancel(false);
        // consumers stay registered until the handlers are done: cancelling now would let the broker
        // activate another subscription while messages of the same keys still run here
        workers.shutdown();
        try {
            if (!workers.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("subscription {}/{}: handlers still running after {}; interrupting them, their messages will be redelivered",
                        options.topic(), options.group(), timeout);
                abandoning = true;
                workers.shutdownNow();
                workers.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            abandoning = true;
            workers.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            synchronized (lifecycle) {
                closeChannels();
            }
            onClosed.accept(this);
        }
    }

    private void closeChannels() {
        for (Partition p : partitions) {
            closeQuietly(p.channel);
        }
        closeQuietly(membersChannel);
    }

    private static void closeQuietly(Channel ch) {
        if (ch == null) {
            return;
        }
        try {
            ch.close();
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            log.trace("closing consumer channel", e);
        }
    }
}
