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
import java.util.List;
import java.util.UUID;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker side of one consumer of a group's queue, run by a {@link io.courier.spi.engine.ConsumerEngine}:
 * its own channel with {@code basic.qos(maxInFlight)} and manual acknowledgements. The broker pushes
 * deliveries to a consumer on that channel, which buffers them; the engine's handler threads take
 * them from the buffer one at a time ({@link #fetchesOnWorker()}), run the handler and settle each
 * delivery on their own thread. A delivery thus passes one thread hand-off, the one from the client's
 * consumer thread to a handler thread, as with a plain amqp-client consumer and its worker pool.
 *
 * <p>Settlement: a handler that returned is acked. A retry or a failure is settled by publishing a copy
 * (same id, {@code courier-attempt} header = attempts so far) into this group's queue only, through the
 * delay ladder, and acking the original once the broker confirmed the copy; if the copy cannot be
 * published the original is returned to the queue ({@code basic.nack} with requeue), so it is never
 * lost. There is no immediate requeue of failures, hence no hot redelivery loop. A delivery that cannot
 * be read as a Courier message reaches no handler: it is dead-lettered to {@code <topic>.dlq} with the
 * reason in headers ({@link QueueSettler#deadLetterUndecodable}).
 *
 * <p>Delayed messages: the delay ladder rounds down, so a delayed message or retry copy may arrive up to
 * 150 ms before it is due; it carries its due time ({@link Fetched#notBefore()}), and the engine holds
 * it, unacknowledged and counted in flight, until then, without holding a thread.
 *
 * <p>Closing: once the engine stops, the consumer is cancelled (no new deliveries); deliveries not
 * started stay unacknowledged and return to the queue when {@link #close()} closes the channel.
 *
 * <p>Recovery: after the client recovers the connection (and this channel), or after the broker closed
 * the channel or cancelled the consumer, the queue is declared again and consumption resumes, retrying
 * every {@link io.courier.rabbitmq.RabbitMqConfig#recoveryInterval()} until it works.
 */
public final class RabbitSource implements DeliverySource<RabbitSource.Received> {

    private static final Logger log = LoggerFactory.getLogger(RabbitSource.class);

    /**
     * One delivery: the channel it arrived on and its delivery tag there.
     *
     * @param channel     the consumer channel
     * @param deliveryTag the broker's tag for acknowledging it on {@code channel}
     */
    public record Received(Channel channel, long deliveryTag) {
    }

    private final SubscriptionOptions options;
    private final ConnectionWatch connection;
    private final Topology topology;
    private final ScheduledExecutorService scheduler;
    private final Duration retryInterval;
    private final String queue;
    private final QueueSettler settler;
    private final DeliveryBuffer<Received> buffer = new DeliveryBuffer<>();
    private final Object lifecycle = new Object();
    private final AtomicLong restartGeneration = new AtomicLong();
    private final AtomicBoolean cancelRequested = new AtomicBoolean();
    private volatile SourceContext<Received> context;
    private volatile Channel channel;
    private volatile String consumerTag;
    /** Guarded by {@link #lifecycle}. */
    private boolean closed;

    /**
     * Declares the group's queue; {@link #start} consumes it.
     *
     * @throws CourierException (or {@link io.courier.rabbitmq.TopologyMismatchException}) when the queue
     *                          cannot be declared
     */
    public RabbitSource(SubscriptionOptions options, ConnectionWatch connection, Topology topology,
                        RabbitPublisher publisher, ScheduledExecutorService scheduler, Duration retryInterval) {
        this.options = options;
        this.connection = connection;
        this.topology = topology;
        this.scheduler = scheduler;
        this.retryInterval = retryInterval;
        this.queue = topology.declareGroup(options.topic(), options.group());
        this.settler = new QueueSettler(publisher, options.topic(), options.group(), queue);
    }

    /**
     * Opens the channel and starts consuming.
     *
     * @throws CourierException (or {@link io.courier.rabbitmq.TopologyMismatchException}) when the queue
     *                          cannot be consumed
     */
    @Override
    public void start(SourceContext<Received> context) {
        this.context = context;
        try {
            synchronized (lifecycle) {
                consume(openChannel());
            }
        } catch (IOException | ShutdownSignalException e) {
            throw Topology.translate("consume queue '" + queue + "'", e);
        }
    }

    private boolean running() {
        SourceContext<Received> c = context;
        return c != null && c.running();
    }

    private Channel openChannel() throws IOException {
        Channel ch = connection.connection().createChannel();
        if (ch == null) {
            throw new CourierException("RabbitMQ refused to open another channel on connection '" + connection.name() + "'");
        }
        ((Recoverable) ch).addRecoveryListener(new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
                // the client recovered the channel but not the consumer (topology recovery is Courier's job)
                scheduleRestart("the connection recovered", Duration.ZERO);
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {
            }
        });
        channel = ch;
        return ch;
    }

    private void consume(Channel ch) throws IOException {
        ch.basicQos(options.maxInFlight());
        String tag = options.consumerName().orElse("courier") + "-" + UUID.randomUUID().toString().substring(0, 8);
        ch.basicConsume(queue, false, tag, false, false, null, new QueueConsumer(ch));
        consumerTag = tag;
    }

    private final class QueueConsumer extends DefaultConsumer {
        private final Channel ch;

        QueueConsumer(Channel ch) {
            super(ch);
            this.ch = ch;
        }

        @Override
        public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
            if (!running()) {
                return;   // left unacknowledged: returns to the queue when the channel closes
            }
            Fetched<Received> f;
            try {
                f = QueueSettler.fetched(new Received(ch, envelope.getDeliveryTag()), envelope, properties, body);
            } catch (RuntimeException e) {
                settler.deadLetterUndecodable(ch, envelope.getDeliveryTag(), properties, body, e);
                return;
            }
            buffer.add(f);
        }

        @Override
        public void handleCancel(String consumerTag) {
            log.warn("RabbitMQ cancelled the consumer of queue '{}' (was it deleted?); consuming again", queue);
            scheduleRestart("the broker cancelled the consumer", Duration.ZERO);
        }

        @Override
        public void handleShutdownSignal(String consumerTag, ShutdownSignalException sig) {
            if (running() && !sig.isHardError() && !sig.isInitiatedByApplication()) {
                // channel-level error: the client does not recover this channel, so open a new one
                log.warn("RabbitMQ closed the consumer channel of queue '{}': {}; reopening", queue, sig.getMessage());
                scheduleRestart("the broker closed the channel", retryInterval);
            }
        }
    }

    private void scheduleRestart(String reason, Duration delay) {
        if (!running()) {
            return;
        }
        long generation = restartGeneration.incrementAndGet();
        try {
            scheduler.schedule(() -> restart(reason, generation), delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            log.debug("not restarting consumer of '{}': transport closing", queue);
        }
    }

    private void restart(String reason, long generation) {
        synchronized (lifecycle) {
            if (closed || !running() || generation != restartGeneration.get()) {
                return;
            }
            try {
                Channel ch = channel;
                if (ch == null || !ch.isOpen()) {
                    if (!connection.isOpen()) {
                        scheduleRestart(reason, retryInterval);   // the client is still recovering the connection
                        return;
                    }
                    closeChannelQuietly(ch);
                    ch = openChannel();
                }
                topology.declareGroup(options.topic(), options.group());
                consume(ch);
                log.info("consuming queue '{}' again after {}", queue, reason);
            } catch (IOException | RuntimeException e) {
                log.warn("cannot resume consuming queue '{}' ({}); trying again in {}", queue, e.toString(), retryInterval);
                topology.invalidate();
                scheduleRestart(reason, retryInterval);
            }
        }
    }

    @Override
    public List<Fetched<Received>> exchange(List<Settled<Received>> settled, int max, Duration maxWait)
            throws InterruptedException {
        return buffer.take(max, maxWait);
    }

    /** True: an ack is one cheap frame, written as soon as the handler returned. */
    @Override
    public boolean settlesOnWorker() {
        return true;
    }

    /**
     * True: a fetch is a take from the in-process buffer, so each handler thread takes for itself and
     * no engine fetch thread stands between the client's consumer thread and the handler. (The
     * key-ordered {@link PartitionedSource} does not: its lanes need the engine's dispatch.)
     */
    @Override
    public boolean fetchesOnWorker() {
        return true;
    }

    @Override
    public void settle(Settled<Received> s) {
        Fetched<Received> f = s.fetched();
        settler.settle(f.record().channel(), f.record().deliveryTag(), f.message(), f.attempt(), s.outcome());
    }

    /**
     * Leaves the deliveries unacknowledged: closing the channel ({@link #close()}) returns them to the
     * queue for the group's other consumers.
     */
    @Override
    public void release(List<Fetched<Received>> unhandled) {
    }

    /** Also, once the subscription is closing, cancels the consumer (in the background) so no more deliveries come. */
    @Override
    public void wakeUp() {
        buffer.wakeUp();
        SourceContext<Received> c = context;
        if (c != null && !c.running() && cancelRequested.compareAndSet(false, true)) {
            try {
                scheduler.execute(this::cancelConsumer);
            } catch (RejectedExecutionException e) {
                log.debug("not cancelling consumer of '{}': transport closing; the channel's close ends it", queue);
            }
        }
    }

    private void cancelConsumer() {
        synchronized (lifecycle) {
            Channel ch = channel;
            String tag = consumerTag;
            if (closed || ch == null || tag == null || !ch.isOpen()) {
                return;
            }
            try {
                ch.basicCancel(tag);
            } catch (IOException | RuntimeException e) {
                log.debug("cancelling consumer of '{}' failed", queue, e);
            }
        }
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            closed = true;
            closeChannelQuietly(channel);
        }
    }

    /** Closes {@code ch} (null: nothing), ignoring failures: it is going away either way. */
    static void closeChannelQuietly(Channel ch) {
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
