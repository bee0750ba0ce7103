package io.courier.kafka;

import io.courier.Transport;
import io.courier.testkit.KafkaBroker;
import io.courier.testkit.TransportConformanceSuite;
import io.courier.testkit.TransportFactory;
import io.courier.testkit.TransportFeatures;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Kafka transport against the conformance suite, on the local broker of {@code scripts/kafka}. */
@ExtendWith(KafkaBroker.class)
class KafkaConformanceTest extends TransportConformanceSuite {

    /** Every connection goes through the fault proxy, so that the suite can cut them. */
    @Override
    protected Transport createTransport() throws Exception {
        return KafkaChildFactory.transport(KafkaFaultProxy.get().bootstrapServers());
    }

    @Override
    protected TransportFeatures features() {
        return TransportFeatures.builder()
                .persistent(true)
                .survivesRestart(true)
                .crossProcess(true)
                .consumerGroups(true)
                .delayedDelivery(true)
                .keyOrdering(true)
                .partitionedConsumers(true)
                .connectionFaults(true)
                .maxPayloadBytes(KafkaConfig.DEFAULT_MAX_PAYLOAD_BYTES)
                .leaseTimeout(Duration.ofSeconds(3))   // the consumer session timeout
                .build();
    }

    /** The suite names every topic {@code ck-...}; deleting them keeps the broker small and quick to restart. */
    @AfterAll
    static void deleteSuiteTopics() throws Exception {
        KafkaTestSupport.deleteTopicsStartingWith(Set.of("ck-"));
    }

    @Override
    protected void restartBroker() {
        KafkaBroker.restart();
    }

    @Override
    protected void cutConnections() throws Exception {
        KafkaFaultProxy.get().cut();
    }

    @Override
    protected void healConnections() throws Exception {
        KafkaFaultProxy.get().heal();
    }

    @Override
    protected Class<? extends TransportFactory> childTransportFactory() {
        return KafkaChildFactory.class;
    }

    @Override
    protected Map<String, String> childTransportConfig() {
        return Map.of("bootstrap", KafkaBroker.bootstrapServers());
    }
}
