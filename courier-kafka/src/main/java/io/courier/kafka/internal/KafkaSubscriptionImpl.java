package io.courier.kafka.internal;

import io.courier.CourierException;
import io.courier.Handler;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaSubscriptionOptions;
import io.courier.spi.engine.ConsumerEngine;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One subscription: a {@link KafkaSource} (a Kafka consumer in the subscription's group reading the
 * topic and the group's retry topic) run by a {@link ConsumerEngine}, which owns the threads, the
 * in-flight budget, the ordering lanes and the close protocol. Thread-safe.
 */
public final class KafkaSubscriptionImpl implements Subscription {

    private final SubscriptionOptions options;
    private final KafkaSubscriptionOptions kafkaOptions;
    private final KafkaConfig config;
    private final KafkaSource source;
    private final ConsumerEngine<KafkaSource.Rec> engine;

    /** A subscription; call {@link #start()}. The topic and the retry topic must exist. */
    public KafkaSubscriptionImpl(SubscriptionOptions options, KafkaSubscriptionOptions kafkaOptions, Handler handler,
                                 KafkaClients clients, KafkaPublisherImpl publisher, String retryTopic,
                                 Consumer<KafkaSubscriptionImpl> onClosed) {
        this.options = options;
        this.kafkaOptions = kafkaOptions;
        this.config = clients.config();
        this.source = new KafkaSource(options, kafkaOptions, clients, publisher, retryTopic);
        this.engine = ConsumerEngine.builder(options, handler, source)
                .name("courier-kafka-" + options.topic() + "-" + options.group())
                .tuning(source.tuning())
                .onClosed(e -> onClosed.accept(this))
                .build();
    }

    /**
     * Starts consuming and waits until the consumer joined the group and got its first assignment.
     *
     * @throws CourierException if it does not within the operation timeout, or the consumer failed
     */
    public void start() {
        engine.start();
        try {
            source.joined().get(config.operationTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            engine.close(Duration.ZERO);
            throw new CourierException("consumer of topic '" + options.topic() + "' in group '" + options.group()
                    + "' did not join its group within " + config.operationTimeout() + " (is the broker at "
                    + config.bootstrapServers() + " reachable?)", e);
        } catch (ExecutionException e) {
            engine.close(Duration.ZERO);
            Throwable cause = e.getCause();
            throw new CourierException("consumer of topic '" + options.topic() + "' in group '" + options.group()
                    + "' failed to start: " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            engine.close(Duration.ZERO);
            throw new CourierException("interrupted while subscribing to '" + options.topic() + "'", e);
        }
    }

    @Override
    public SubscriptionOptions options() {
        return options;
    }

    /** The Kafka settings this subscription runs with (ordering, retry mode). */
    public KafkaSubscriptionOptions kafkaOptions() {
        return kafkaOptions;
    }

    @Override
    public boolean isRunning() {
        return engine.isRunning();
    }

    /**
     * Stops fetching, lets running handlers finish within {@code timeout} (then interrupts them; their
     * records are delivered again), commits what finished and leaves the group.
     */
    @Override
    public void close(Duration timeout) {
        engine.close(timeout.isNegative() ? Duration.ZERO : timeout);
    }
}
