package io.courier.kafka;

import io.courier.Transport;
import io.courier.testkit.TransportFactory;
import java.time.Duration;
import java.util.Map;

/** Builds the conformance suite's Kafka transport, in the test JVM and in the child JVM of the SIGKILL test. */
public final class KafkaChildFactory implements TransportFactory {

    /** Used by the child JVM. */
    public KafkaChildFactory() {
    }

    @Override
    public Transport create(Map<String, String> config) {
        return transport(config.get("bootstrap"));
    }

    static KafkaTransport transport(String bootstrap) {
        return KafkaTransport.create(KafkaConfig.builder()
                .bootstrapServers(bootstrap)
                .clientId("courier-conformance")
                .partitions(3)
                .commitInterval(Duration.ofMillis(200))
                .build());
    }
}
