package io.courier.redis;

import io.courier.Transport;
import io.courier.testkit.TransportConformanceSuite;
import io.courier.testkit.TransportFactory;
import io.courier.testkit.TransportFeatures;
import io.courier.testkit.fault.TcpProxy;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole conformance suite against a transport with {@link RedisConfig.Builder#keyOrdering key
 * ordering} on, so that {@code perKeyOrdering} runs and every other test proves the key-ordered
 * read, settle and reclaim paths keep the transport's other guarantees. Same setup as
 * {@link RedisConformanceTest}: a Redis server the test owns, behind a TCP proxy.
 */
class RedisKeyOrderedConformanceTest extends TransportConformanceSuite {

    private static final String PREFIX = "courier-ko-conformance:" + UUID.randomUUID().toString().substring(0, 8) + ":";
    private static RedisServerProcess server;
    private static TcpProxy proxy;

    @BeforeAll
    static void startRedis() throws Exception {
        server = new RedisServerProcess().start();
        proxy = TcpProxy.start("127.0.0.1", server.port());
    }

    @AfterAll
    static void stopRedis() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (server != null) {
            server.close();
        }
    }

    static RedisConfig config(String uri, String prefix) {
        return RedisConformanceTest.config(uri, prefix).toBuilder().keyOrdering(true).build();
    }

    @Override
    protected Transport createTransport() {
        return RedisStreamsTransport.create(config("redis://127.0.0.1:" + proxy.port(), PREFIX));
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
                .connectionFaults(true)
                .maxPayloadBytes(1024 * 1024)
                .build();
    }

    @Override
    protected void restartBroker() throws Exception {
        server.kill();
        server.start();
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
        return ChildFactory.class;
    }

    @Override
    protected Map<String, String> childTransportConfig() {
        return Map.of("uri", server.uri(), "prefix", PREFIX);
    }

    /** Builds the key-ordered transport in the SIGKILL test's child JVM. */
    public static final class ChildFactory implements TransportFactory {
        /** Used by the child JVM. */
        public ChildFactory() {
        }

        @Override
        public Transport create(Map<String, String> config) {
            return RedisStreamsTransport.create(RedisKeyOrderedConformanceTest.config(config.get("uri"), config.get("prefix")));
        }
    }
}
