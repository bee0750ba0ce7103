package io.courier.rabbitmq.internal;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ShutdownSignalException;
import io.courier.PublishException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Up to {@code max} publishing channels, each lent to one thread at a time: a channel is never used
 * by two publishing threads at once (the client does not support that). Channels are created on
 * demand; one the broker closed with a channel-level error is replaced. Thread-safe.
 */
final class ChannelPool {

    private final ConnectionWatch connection;
    private final int max;
    private final Executor completions;
    private final Runnable onChannelError;
    private final Duration confirmTimeout;
    private final BlockingQueue<PublisherChannel> idle = new LinkedBlockingQueue<>();
    private final List<PublisherChannel> all = new CopyOnWriteArrayList<>();
    private final AtomicInteger created = new AtomicInteger();

    ChannelPool(ConnectionWatch connection, int max, Executor completions, Runnable onChannelError, Duration confirmTimeout) {
        this.connection = connection;
        this.max = max;
        this.completions = completions;
        this.onChannelError = onChannelError;
        this.confirmTimeout = confirmTimeout;
    }

    /**
     * Lends a channel for exclusive use until {@link #release}. Returns null when the connection is
     * down (the caller waits for recovery and tries again).
     *
     * @throws PublishException when no channel became free before {@code deadlineNanos}
     */
    PublisherChannel borrow(String topic, long deadlineNanos) throws InterruptedException {
        while (true) {
            PublisherChannel pc = idle.poll();
            if (pc == null && created.incrementAndGet() <= max) {
                try {
                    Channel ch = connection.connection().createChannel();
                    if (ch == null) {
                        throw new PublishException(topic, "RabbitMQ refused to open another channel on connection '"
                                + connection.name() + "' (channel_max reached)");
                    }
                    pc = new PublisherChannel(ch, completions, onChannelError, connection::blockedReason, confirmTimeout);
                    all.add(pc);
                } catch (IOException | ShutdownSignalException e) {
                    created.decrementAndGet();
                    return null;
                } catch (RuntimeException e) {
                    created.decrementAndGet();
                    throw e;
                }
            } else if (pc == null) {
                created.decrementAndGet();
                long left = deadlineNanos - System.nanoTime();
                pc = left > 0 ? idle.poll(left, TimeUnit.NANOSECONDS) : null;
                if (pc == null) {
                    throw new PublishException(topic, "no publishing channel became free within " + confirmTimeout
                            + "; all " + max + " are in use (raise RabbitMqConfig publisherChannels)");
                }
            }
            if (pc.dead()) {
                all.remove(pc);
                created.decrementAndGet();
                pc.close();
                continue;
            }
            return pc;
        }
    }

    /** Returns a lent channel. */
    void release(PublisherChannel pc) {
        idle.offer(pc);
    }

    /** Fails overdue confirms on every channel. */
    void expire(long nowNanos) {
        for (PublisherChannel pc : all) {
            pc.expire(nowNanos);
        }
    }

    /** Messages published and not yet confirmed, on all channels. */
    int outstanding() {
        int n = 0;
        for (PublisherChannel pc : all) {
            n += pc.outstanding();
        }
        return n;
    }

    /** Closes every channel; unconfirmed messages fail. */
    void close() {
        for (PublisherChannel pc : all) {
            pc.close();
        }
        all.clear();
        idle.clear();
    }
}
