package io.courier.rabbitmq;

import io.courier.Transport;
import io.courier.testkit.TransportConformanceSuite;
import io.courier.testkit.TransportFactory;
import io.courier.testkit.TransportFeatures;
import io.courier.testkit.fault.TcpProxy;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The RabbitMQ transport in key-ordered mode ({@link RabbitMqConfig.Builder#keyOrdering(int)}) against
 * the whole conformance suite, on the real broker: everything {@link RabbitMqConformanceTest} declares,
 * plus per-key ordering, and partitioned consumers (a message waits for the subscription that is the
 * active consumer of its partition queue, so the "blocked consumer holds at most maxInFlight" test
 * cannot apply).
 */
class RabbitMqKeyOrderedConformanceTest extends TransportConformanceSuite {

    static final int PARTITIONS = 4;
    private static final int MAX_PAYLOAD_BYTES = 256 * 1024;
    private static TcpProxy proxy;

    @BeforeAll
    static void startProxy() throws Exception {
        proxy = TcpProxy.start(RabbitBroker.HOST, RabbitBroker.PORT);
    }

    @AfterAll
    static void stopProxyAndDeleteWhatTheSuiteCreated() {
        proxy.close();
        ConformanceCleanup.deleteQueuesAndExchangesStartingWith("ck-");
    }

    @Override
    protected Transport createTransport() {
        return RabbitMqTransport.connect(RabbitBroker.config()
                .port(proxy.port())
                .connectionName("courier-conformance-key-ordered")
                .keyOrdering(PARTITIONS)
                .maxPayloadBytes(MAX_PAYLOAD_BYTES)
                .heartbeat(Duration.ofSeconds(5))
                .recoveryInterval(Duration.ofMillis(300))
                .build());
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
                .maxPayloadBytes(MAX_PAYLOAD_BYTES)
                .build();
    }

    @Override
    protected void restartBroker() {
        try {
            RabbitBroker.rabbitmqctl(Duration.ofSeconds(60), "stop_app");
        } finally {
            RabbitBroker.rabbitmqctl(Duration.ofSeconds(120), "start_app");
        }
    }

    @Override
    protected void cutConnections() {
        proxy.cut();
    }

    @Override
    protected void healConnections() {
        proxy.heal();
    }

    @Override
    protected Class<? extends TransportFactory> childTransportFactory() {
        return RabbitMqChildFactory.class;
    }

    @Override
    protected Map<String, String> childTransportConfig() {
        return Map.of("host", RabbitBroker.HOST, "port", Integer.toString(RabbitBroker.PORT),
                "keyOrderingPartitions", Integer.toString(PARTITIONS));
    }
}
