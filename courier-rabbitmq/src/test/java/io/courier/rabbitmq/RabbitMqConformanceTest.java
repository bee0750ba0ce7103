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
 * concurrently).
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

    @Override
    protected Transport createTransport() {
        return RabbitMqTransport.connect(RabbitBroker.config()
                .port(proxy.port())
                .connectionName("courier-conformance")
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
                .keyOrdering(false)
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
        return Map.of("host", RabbitBroker.HOST, "port", Integer.toString(RabbitBroker.PORT));
    }
}
