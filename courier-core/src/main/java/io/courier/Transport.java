package io.courier;

/**
 * A message transport: the SPI that the in-memory, SQL, RabbitMQ, Kafka and Redis modules implement.
 *
 * <p>A transport offers a thread-safe {@link #publisher()} and {@link #subscriber()}. Optional
 * capabilities are separate interfaces: the publisher implements {@link DelayedPublisher} when the
 * transport supports delayed delivery; {@link KeyOrderedSubscriber} marks a subscriber that keeps
 * per-key order. Each transport's guide in {@code docs/transports/} says what it promises.
 *
 * <p>{@link #close()} closes every subscription gracefully (see {@link Subscription#close()}), then
 * the publisher (waiting for publishes in flight), then the connections.
 */
public interface Transport extends AutoCloseable {

    /** A short name for logs and metrics, e.g. {@code memory}, {@code sqlite}, {@code rabbitmq}. */
    String name();

    /** The publisher; the same instance on every call. */
    Publisher publisher();

    /** The subscriber; the same instance on every call. */
    Subscriber subscriber();

    /** Closes subscriptions, then the publisher, then connections. Idempotent. */
    @Override
    void close();
}
