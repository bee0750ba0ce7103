package io.courier.rabbitmq;

/**
 * The RabbitMQ transport in key-ordered mode ({@link RabbitMqConfig.Builder#keyOrdering(int)}, 4
 * partitions) against the whole conformance suite, on the real broker: everything
 * {@link RabbitMqConformanceTest} declares, plus per-key ordering, and partitioned consumers (a
 * message waits for the subscription that is the active consumer of its partition queue, so the
 * "blocked consumer holds at most maxInFlight" test cannot apply). The SIGKILL test's child JVM
 * builds a key-ordered transport too.
 */
class RabbitMqKeyOrderedConformanceTest extends RabbitMqConformanceTest {

    @Override
    protected int keyOrderingPartitions() {
        return 4;
    }
}
