package io.courier.rabbitmq.internal;

import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.spi.engine.ConsumerEngine;
import java.time.Duration;
import java.util.List;

/**
 * A subscription of a key-ordered group: the {@link ConsumerEngine} running a {@link PartitionedSource},
 * plus what the source knows about the partitions it is active on. Thread-safe.
 */
public final class PartitionedSubscription implements Subscription {

    private final ConsumerEngine<PartitionedSource.Received> engine;
    private final PartitionedSource source;

    /** The subscription of {@code engine}, which runs {@code source}. */
    public PartitionedSubscription(ConsumerEngine<PartitionedSource.Received> engine, PartitionedSource source) {
        this.engine = engine;
        this.source = source;
    }

    /** Partitions on which this subscription is the active consumer, as far as it knows (it received a delivery). */
    public List<Integer> activePartitions() {
        return source.activePartitions();
    }

    @Override
    public SubscriptionOptions options() {
        return engine.options();
    }

    @Override
    public boolean isRunning() {
        return engine.isRunning();
    }

    @Override
    public void close(Duration timeout) {
        engine.close(timeout);
    }
}
