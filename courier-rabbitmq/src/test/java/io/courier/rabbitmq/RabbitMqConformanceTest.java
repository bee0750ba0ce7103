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
 * The RabbitMQ transport against the conformance suite, on the real broker, with every capability
 * RabbitMQ offers declared: persistent, survives a broker restart ({@code rabbitmqctl stop_app} /
 * {@code start_app}), shared across processes (SIGKILL test), consumer groups, delayed delivery, and
 * connection faults through a TCP proxy. Not declared: per-key ordering (queues are consumed
 * concurrently); {@link RabbitMqKeyOrderedConformanceTest} runs the suite again in key-ordered mode.
 */
class RabbitMqConformanceTest extends TransportConformanceSuite {

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

    /** Partitions of the key-ordered mode, 0 for the default mode ({@link RabbitMqKeyOrderedConformanceTest}: 4). */
    protected int keyOrderingPartitions() {
        return 0;
    }

    @Override
    protected Transport createTransport() {
        RabbitMqConfig.Builder b = RabbitBroker.config()
                .port(proxy.port())
                .connectionName("courier-conformance")
                .maxPayloadBytes(MAX_PAYLOAD_BYTES)
                .heartbeat(Duration.ofSeconds(5))
                .recoveryInterval(Duration.ofMillis(300));
        if (keyOrderingPartitions() > 0) {
            b.keyOrdering(keyOrderingPartitions());
        }
        return RabbitMqTransport.connect(b.build());
    }

    @Override
    protected TransportFeatures features() {
        return TransportFeatures.builder()
                .persistent(true)
                .survivesRestart(true)
                .crossProcess(true)
                .consumerGroups(true)
                .delayedDelivery(true)
                .keyOrdering(keyOrderingPartitions() > 0)
                .partitionedConsumers(keyOrderingPartitions() > 0)
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
        Map<String, String> config = new java.util.HashMap<>(Map.of("host", RabbitBroker.HOST,
                "port", Integer.toString(RabbitBroker.PORT)));
        if (keyOrderingPartitions() > 0) {
            config.put("keyOrderingPartitions", Integer.toString(keyOrderingPartitions()));
        }
        return config;
    }
}
