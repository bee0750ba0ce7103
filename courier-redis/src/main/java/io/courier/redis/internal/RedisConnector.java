package io.courier.redis.internal;

import io.courier.CourierException;
import io.courier.redis.RedisConfig;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.DefaultClientResources;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A Lettuce client configured from a {@link RedisConfig} (address, credentials, TLS, timeouts,
 * reconnection), and the connections opened through it: what the transport and the idempotency store
 * share. Closing it shuts the client down. Thread-safe.
 */
public final class RedisConnector implements AutoCloseable {

    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;

    /** A client for {@code config}; connects nothing yet. */
    public RedisConnector(RedisConfig config) {
        this.resources = DefaultClientResources.builder()
                .reconnectDelay(Delay.exponential(Duration.ofMillis(50), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
        this.uri = toUri(config);
        this.client = RedisClient.create(resources, uri);
        client.setOptions(clientOptions(config));
    }

    /**
     * A new connection with byte-array keys and values; it reconnects by itself. The caller closes it.
     *
     * @throws CourierException if Redis cannot be reached or refuses the credentials
     */
    public StatefulRedisConnection<byte[], byte[]> connect() {
        try {
            return client.connect(ByteArrayCodec.INSTANCE);
        } catch (RedisException e) {
            throw new CourierException("cannot connect to Redis at " + describe(uri) + ": " + e.getMessage(), e);
        }
    }

    /** The client, for connections whose failures the caller handles itself. */
    RedisClient client() {
        return client;
    }

    static RedisURI toUri(RedisConfig config) {
        RedisURI uri = RedisURI.create(config.uri());
        config.host().ifPresent(uri::setHost);
        if (config.port() != 0) {
            uri.setPort(config.port());
        }
        config.database().ifPresent(uri::setDatabase);
        config.password().ifPresent(pw -> {
            if (config.username().isPresent()) {
                uri.setAuthentication(config.username().get(), pw);
            } else {
                uri.setAuthentication(pw);
            }
        });
        config.tls().ifPresent(uri::setSsl);
        uri.setVerifyPeer(config.verifyPeer());
        uri.setTimeout(config.commandTimeout());
        uri.setClientName(config.clientName());
        return uri;
    }

    private static ClientOptions clientOptions(RedisConfig config) {
        ClientOptions.Builder options = ClientOptions.builder()
                .autoReconnect(true)
                .timeoutOptions(TimeoutOptions.enabled(config.commandTimeout()))
                .socketOptions(SocketOptions.builder()
                        .connectTimeout(min(config.commandTimeout(), Duration.ofSeconds(10)))
                        .keepAlive(true)
                        .build());
        if (config.trustStore().isPresent()) {
            SslOptions.Builder ssl = SslOptions.builder().jdkSslProvider();
            String password = config.trustStorePassword().map(String::new).orElse(null);
            ssl.truststore(config.trustStore().get().toFile(), password);
            options.sslOptions(ssl.build());
        }
        return options.build();
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private static String describe(RedisURI uri) {
        return (uri.isSsl() ? "rediss://" : "redis://") + uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase();
    }

    /** Shuts the client and its resources down; connections still open are closed. */
    @Override
    public void close() {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
