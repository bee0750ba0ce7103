package io.courier.tasks.redis;

import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.ArrivalListeners;
import io.courier.tasks.spi.TaskArrivals;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The Redis store's side of {@link TaskArrivals}: one pub/sub connection, opened by the first
 * subscription and closed with the store, subscribed to the wake channel ({@code <prefix>:wake:<queue>})
 * of every queue somebody listens to. The store's scripts publish on those channels (see
 * {@link RedisScripts}). Lettuce reconnects a broken connection and subscribes again; each
 * confirmed subscription tells the queue's listeners that announcements may have been missed.
 *
 * <p>Thread-safe. Listeners are called on Lettuce's I/O thread.
 */
final class RedisArrivals implements AutoCloseable {

    private final RedisClient client;
    private final String channelPrefix;
    private final ArrivalListeners listeners = new ArrivalListeners();
    private final Set<String> subscribed = new HashSet<>();
    private StatefulRedisPubSubConnection<String, String> connection;
    private boolean closed;

    RedisArrivals(RedisClient client, String keyPrefix) {
        this.client = client;
        this.channelPrefix = keyPrefix + ":wake:";
    }

    synchronized TaskArrivals.Subscription subscribe(Collection<String> queues, ArrivalListener listener) {
        if (closed) {
            throw new TaskStoreException("redis task store is closed: cannot listen for new tasks");
        }
        TaskArrivals.Subscription subscription = listeners.add(queues, listener);
        List<String> newQueues = queues.stream().distinct().filter(q -> !subscribed.contains(q)).toList();
        try {
            if (connection == null) {
                connection = client.connectPubSub(StringCodec.UTF8);
                connection.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String channel, String message) {
                        if (channel.startsWith(channelPrefix)) {
                            listeners.deliver(channel.substring(channelPrefix.length()), message);
                        }
                    }

                    @Override
                    public void subscribed(String channel, long count) {
                        if (channel.startsWith(channelPrefix)) {
                            // Also after Lettuce subscribed again on a new connection: look once for what was missed.
                            listeners.missed(channel.substring(channelPrefix.length()));
                        }
                    }
                });
            }
            if (!newQueues.isEmpty()) {
                connection.sync().subscribe(newQueues.stream().map(q -> channelPrefix + q).toArray(String[]::new));
                subscribed.addAll(newQueues);
            }
            return subscription;
        } catch (RedisException e) {
            subscription.close();
            throw new TaskStoreException("redis task store: cannot subscribe to new-task announcements: " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (connection != null) {
            connection.close();
            connection = null;
        }
    }
}
