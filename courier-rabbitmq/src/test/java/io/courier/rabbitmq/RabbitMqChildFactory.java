package io.courier.rabbitmq;

import io.courier.Transport;
import io.courier.testkit.TransportFactory;
import java.util.Map;

/** Builds the RabbitMQ transport in the conformance suite's child JVM (the SIGKILL test). */
public final class RabbitMqChildFactory implements TransportFactory {

    /** Used by the child JVM through reflection. */
    public RabbitMqChildFactory() {
    }

    @Override
    public Transport create(Map<String, String> config) {
        RabbitMqConfig.Builder b = RabbitMqConfig.builder()
                .host(config.get("host"))
                .port(Integer.parseInt(config.get("port")))
                .connectionName("courier-conformance-child");
        String partitions = config.get("keyOrderingPartitions");
        if (partitions != null) {
            b.keyOrdering(Integer.parseInt(partitions));
        }
        return RabbitMqTransport.connect(b.build());
    }
}
