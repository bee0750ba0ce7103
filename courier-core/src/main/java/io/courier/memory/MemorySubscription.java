package io.courier.memory;

import io.courier.Handler;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.BasicDelivery;
import io.courier.spi.ConsumerThreads;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A subscription of the in-memory transport: {@code concurrency} workers claiming from one group queue. */
final class MemorySubscription implements Subscription {

    private static final Logger log = LoggerFactory.getLogger(MemorySubscription.class);
    private static final Duration POLL = Duration.ofMillis(200);

    private final SubscriptionOptions options;
    private final Handler handler;
    private final GroupQueue queue;
    private final Consumer<MemorySubscription> onClosed;
    private final ExecutorService workers;
    private volatile boolean running = true;
    private final BooleanSupplier isRunning = () -> running;
    private final Object closeLock = new Object();
    private boolean closed;

    MemorySubscription(SubscriptionOptions options, Handler handler, GroupQueue queue, Clock clock,
                       Consumer<MemorySubscription> onClosed) {
        this.options = options;
        this.handler = handler;
        this.queue = queue;
        this.onClosed = onClosed;
        this.workers = Executors.newFixedThreadPool(options.concurrency(),
                ConsumerThreads.factory("courier-memory-" + options.topic() + "-" + options.group()));
    }

    void start() {
        for (int i = 0; i < options.concurrency(); i++) {
            workers.execute(this::work);
        }
    }

    private void work() {
        while (running) {
            GroupQueue.Claimed claimed;
            try {
                claimed = queue.claim(options.leaseTimeout(), POLL, isRunning);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (claimed == null) {
                continue;
            }
            BasicDelivery delivery = new BasicDelivery(claimed.message(), options.topic(), options.group(), claimed.attempt());
            Outcome outcome = HandlerInvoker.invoke(handler, delivery, options.failureRedeliveryDelay());
            if (outcome instanceof Outcome.Ack) {
                queue.ack(claimed);
            } else if (outcome instanceof Outcome.Retry r) {
                queue.reschedule(claimed, r.apply(claimed.message()), r.delay());
            } else if (outcome instanceof Outcome.Failed f) {
                queue.reschedule(claimed, claimed.message(), f.redeliveryDelay());
            }
        }
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
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        running = false;
        queue.wakeAll();
        workers.shutdown();
        try {
            if (!workers.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("subscription {}/{}: handlers still running after {}; interrupting them, their messages will be redelivered",
                        options.topic(), options.group(), timeout);
                workers.shutdownNow();
                workers.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            workers.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            onClosed.accept(this);
        }
    }
}
