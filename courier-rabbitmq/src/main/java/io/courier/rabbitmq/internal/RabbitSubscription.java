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
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumer of a group's queue: its own channel with {@code basic.qos(maxInFlight)}, manual
 * acknowledgements, and {@code concurrency} worker threads running the handler.
 *
 * <p>Settlement: a handler that returns is acked. A retry or a failure is settled by publishing a copy
 * (same id, {@code courier-attempt} header = attempts so far) into this group's queue only, through the
 * delay ladder, and acking the original once the broker confirmed the copy; if the copy cannot be
 * published the original is returned to the queue ({@code basic.nack} with requeue), so it is never
 * lost. There is no immediate requeue of failures, hence no hot redelivery loop.
 *
 * <p>Delayed messages: the delay ladder rounds down, so a delayed message or retry copy may arrive up to
 * 150 ms before it is due; it is held, unacknowledged (it counts against {@code maxInFlight}), until due
 * and then handed to the workers. On close a held message is not started and returns to the queue.
 *
 * <p>Recovery: after the client recovers the connection (and this channel), or after the broker closed
 * the channel or cancelled the consumer, the queue is declared again and consumption resumes, retrying
 * every {@link io.courier.rabbitmq.RabbitMqConfig#recoveryInterval()} until it works.
 */
public final class RabbitSubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(RabbitSubscription.class);

    private final SubscriptionOptions options;
    private final Handler handler;
    private final ConnectionWatch connection;
    private final Topology topology;
    private final ScheduledExecutorService scheduler;
    private final Duration retryInterval;
    private final Consumer<RabbitSubscription> onClosed;
    private final ThreadPoolExecutor workers;
    /** Starts deliveries on {@link #workers}, holding the ones that arrived before they are due. */
    private final KeyLanes starter;
    private final Object lifecycle = new Object();
    private final AtomicLong restartGeneration = new AtomicLong();
    private final String queue;
    private final QueueSettler settler;
    private volatile Channel channel;
    private volatile String consumerTag;
    private volatile boolean running = true;
    private volatile boolean abandoning;
    private boolean closed;

    /**
     * Declares the group's queue and starts consuming.
     *
     * @throws CourierException (or {@link io.courier.rabbitmq.TopologyMismatchException}) when the queue
     *                          cannot be declared or consumed
     */
    public RabbitSubscription(SubscriptionOptions options, Handler handler, ConnectionWatch connection, Topology topology,
                              RabbitPublisher publisher, ScheduledExecutorService scheduler, ScheduledExecutorService timer,
                              Duration retryInterval, Consumer<RabbitSubscription> onClosed) {
        this.options = options;
        this.handler = handler;
        this.connection = connection;
        this.topology = topology;
        this.scheduler = scheduler;
        this.retryInterval = retryInterval;
        this.onClosed = onClosed;
        this.queue = topology.declareGroup(options.topic(), options.group());
        this.settler = new QueueSettler(publisher, options.topic(), queue);
        this.workers = new ThreadPoolExecutor(options.concurrency(), options.concurrency(), 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), ConsumerThreads.factory("courier-rabbitmq-" + options.topic() + "-" + options.group()));
        this.starter = new KeyLanes(workers, timer);
        try {
            Channel ch = openChannel();
            consume(ch);
        } catch (IOException | ShutdownSignalException e) {
            workers.shutdownNow();
            closeChannelQuietly(channel);
            throw Topology.translate("consume queue '" + queue + "'", e);
        } catch (RuntimeException e) {
            workers.shutdownNow();
            closeChannelQuietly(channel);
            throw e;
        }
    }

    /** The queue this subscription consumes. */
    public String queue() {
        return queue;
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
            if (!running) {
                return;   // left unacknowledged: returns to the queue when the channel closes
            }
            // a delayed message that arrived before due is held (unacknowledged, on the timer) until due;
            // refused while closing: it returns to the queue
            starter.submit(null, QueueSettler.holdUntil(properties), () -> process(ch, envelope, properties, body));
        }

        @Override
        public void handleCancel(String consumerTag) {
            log.warn("RabbitMQ cancelled the consumer of queue '{}' (was it deleted?); consuming again", queue);
            scheduleRestart("the broker cancelled the consumer", Duration.ZERO);
        }

        @Override
        public void handleShutdownSignal(String consumerTag, ShutdownSignalException sig) {
            if (running && !sig.isHardError() && !sig.isInitiatedByApplication()) {
                // channel-level error: the client does not recover this channel, so open a new one
                log.warn("RabbitMQ closed the consumer channel of queue '{}': {}; reopening", queue, sig.getMessage());
                scheduleRestart("the broker closed the channel", retryInterval);
            }
        }
    }

    private void scheduleRestart(String reason, Duration delay) {
        if (!running) {
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
            if (closed || !running || generation != restartGeneration.get()) {
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

    private void process(Channel ch, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
        if (!running) {
            return;   // not started before close: left for another consumer
        }
        Message message = MessageMapping.fromAmqp(properties, body);
        int attempt = QueueSettler.attempt(envelope, properties);
        BasicDelivery delivery = new BasicDelivery(message, options.topic(), options.group(), attempt);
        Outcome outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
        if (abandoning || Thread.currentThread().isInterrupted()) {
            return;   // close timed out: leave it unacknowledged, it is redelivered
        }
        settler.settle(ch, envelope.getDeliveryTag(), message, attempt, outcome);
    }

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
        Channel ch = channel;
        try {
            if (ch != null && ch.isOpen()) {
                String tag = consumerTag;
                if (tag != null) {
                    ch.basicCancel(tag);
                }
            }
        } catch (IOException | ShutdownSignalException e) {
            log.debug("cancelling consumer of '{}' failed", queue, e);
        }
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
                closeChannelQuietly(channel);
            }
            onClosed.accept(this);
        }
    }

    private static void closeChannelQuietly(Channel ch) {
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
