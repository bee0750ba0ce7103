package io.courier.redis.internal;

import io.courier.Handler;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.engine.ConsumerEngine;
import io.courier.spi.engine.EngineTuning;
import io.lettuce.core.RedisException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * Starts the subscriptions of the Redis transport: one consumer of one group on one topic, a
 * {@link ConsumerEngine} (threads, in-flight budget, lease extension, backoff, close) driving a
 * {@link RedisSource} (the Redis I/O, with {@link KeyOrder} under key ordering).
 */
public final class RedisSubscription {

    private RedisSubscription() {
    }

    /**
     * Creates the groups (idempotently) and starts consuming; see {@link io.courier.Subscriber#subscribe}.
     *
     * @param onClosed called once when the subscription has closed
     * @throws io.courier.CourierException when the groups cannot be created
     */
    public static Subscription start(RedisContext context, SubscriptionOptions options, Handler handler,
                                     Consumer<Subscription> onClosed) {
        String consumerName = options.consumerName().orElseGet(RedisSubscription::uniqueConsumerName);
        GroupStreams streams = new GroupStreams(context, options, consumerName);
        return ConsumerEngine.builder(options, handler, new RedisSource(streams))
                .name("courier-redis-" + options.topic() + "-" + options.group())
                .clock(context.config().clock())
                .tuning(tuning(context))
                .onClosed(onClosed::accept)
                .build()
                .start();
    }

    /** Reads of {@code readBatchSize} entries, blocking up to {@code blockTimeout}; backoff 100 ms to 2 s. */
    static EngineTuning tuning(RedisContext context) {
        return EngineTuning.defaults()
                .withFetchBatch(context.config().readBatchSize())
                .withMaxWait(context.config().blockTimeout())
                .withBackoff(Duration.ofMillis(100), Duration.ofSeconds(2));
    }

    /** host-pid-random: unique per subscription, readable in {@code XINFO CONSUMERS}. */
    static String uniqueConsumerName() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "host";
        }
        host = host.replaceAll("[^A-Za-z0-9._-]", "_");
        String pid = ManagementFactory.getRuntimeMXBean().getName().split("@")[0];
        return host + "-" + pid + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
    }

    /** The error code of a Redis error reply: its first word, e.g. {@code BUSYGROUP}, {@code NOGROUP}. */
    static String errorCode(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof RedisException && t.getMessage() != null) {
                String m = t.getMessage().trim();
                int space = m.indexOf(' ');
                return space < 0 ? m : m.substring(0, space);
            }
        }
        return "";
    }
}
