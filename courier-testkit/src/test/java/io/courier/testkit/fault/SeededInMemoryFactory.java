package io.courier.testkit.fault;

import io.courier.Message;
import io.courier.Transport;
import io.courier.memory.InMemoryTransport;
import io.courier.testkit.TransportFactory;
import java.util.Map;

/**
 * A {@link TransportFactory} for testing {@link KillableConsumerMain} without a shared store: an
 * in-memory transport of the child's own, pre-filled with {@code seed} messages {@code seed-0},
 * {@code seed-1}, ... on {@code topic}.
 */
public final class SeededInMemoryFactory implements TransportFactory {

    /** Public no-arg constructor, as the child JVM requires. */
    public SeededInMemoryFactory() {
    }

    @Override
    public Transport create(Map<String, String> config) {
        InMemoryTransport transport = InMemoryTransport.create();
        int seed = Integer.parseInt(config.getOrDefault("seed", "0"));
        for (int i = 0; i < seed; i++) {
            transport.publisher().publish(config.get("topic"), Message.builder().id("seed-" + i).build()).join();
        }
        return transport;
    }
}
