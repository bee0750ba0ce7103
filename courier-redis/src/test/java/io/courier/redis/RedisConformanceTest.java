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
 * The conformance suite against a Redis server the test owns: append-only file with
 * {@code appendfsync always} (so a restart loses nothing acknowledged, and the restart test really
 * kills and restarts Redis), reached through a TCP proxy for the connection-fault test.
 */
class RedisConformanceTest extends TransportConformanceSuite {

    private final String prefix = "courier-conformance:" + (keyOrdered() ? "ko:" : "")
            + UUID.randomUUID().toString().substring(0, 8) + ":";
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

    /** Whether the transport runs in key-ordered mode ({@link RedisKeyOrderedConformanceTest} says yes). */
    protected boolean keyOrdered() {
        return false;
    }

    static RedisConfig config(String uri, String prefix, boolean keyOrdered) {
        return RedisConfig.builder().uri(uri).keyPrefix(prefix)
                .keyOrdering(keyOrdered)
                .claimInterval(Duration.ofMillis(250))
                .schedulerInterval(Duration.ofMillis(50))
                .blockTimeout(Duration.ofMillis(500))
                .maxPayloadBytes(1024 * 1024)
                .build();
    }

    @Override
    protected Transport createTransport() {
        return RedisStreamsTransport.create(config("redis://127.0.0.1:" + proxy.port(), prefix, keyOrdered()));
    }

    /** The transport's own shared store, not the suite's in-memory default. */
    @Override
    protected io.courier.IdempotencyStore idempotencyStore() {
        return RedisIdempotencyStore.of((RedisStreamsTransport) transport());
    }

    @Override
    protected TransportFeatures features() {
        return TransportFeatures.builder()
                .persistent(true)
                .survivesRestart(true)
                .crossProcess(true)
                .consumerGroups(true)
                .delayedDelivery(true)
                .keyOrdering(keyOrdered())
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
        return Map.of("uri", server.uri(), "prefix", prefix, "keyOrdering", Boolean.toString(keyOrdered()));
    }

    /** Builds the transport in the SIGKILL test's child JVM. */
    public static final class ChildFactory implements TransportFactory {
        /** Used by the child JVM. */
        public ChildFactory() {
        }

        @Override
        public Transport create(Map<String, String> config) {
            return RedisStreamsTransport.create(RedisConformanceTest.config(config.get("uri"), config.get("prefix"),
                    Boolean.parseBoolean(config.get("keyOrdering"))));
        }
    }
}
