package io.courier.rabbitmq.internal;

import com.rabbitmq.client.BlockedListener;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.Recoverable;
import com.rabbitmq.client.RecoveryListener;
import io.courier.CourierException;
import io.courier.rabbitmq.RabbitMqConfig;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One auto-recovering AMQP connection and what Courier needs to know about it: whether it is open,
 * whether the broker is blocking its publishers (resource alarm), and a way to wait for either to
 * change. Recovery listeners registered here run after the client recovered the connection and its
 * channels. Thread-safe.
 */
public final class ConnectionWatch implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ConnectionWatch.class);

    /** How long a synchronous broker call (a declaration, a consume) may take. */
    static final Duration RPC_TIMEOUT = Duration.ofSeconds(30);

    private final String name;
    private final Connection connection;
    private final Object monitor = new Object();
    private final List<Runnable> onRecovery = new CopyOnWriteArrayList<>();
    private volatile String blockedReason;
    private volatile boolean closed;

    /**
     * Opens an auto-recovering connection for {@code role} ({@code publisher} or {@code consumer}) as
     * {@code config} says. Topology recovery by the client is off: Courier's entities are durable and
     * Courier re-declares and re-consumes itself after a recovery.
     *
     * @throws CourierException when the broker cannot be reached or refuses the login
     */
    public static ConnectionWatch open(RabbitMqConfig config, String role) {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(config.host());
        factory.setPort(config.port());
        factory.setVirtualHost(config.virtualHost());
        factory.setUsername(config.username());
        factory.setPassword(config.password());
        factory.setRequestedHeartbeat((int) config.heartbeat().toSeconds());
        factory.setConnectionTimeout((int) Math.min(Integer.MAX_VALUE, config.connectionTimeout().toMillis()));
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(false);
        factory.setNetworkRecoveryInterval(config.recoveryInterval().toMillis());
        // a broker that stops answering must not hang a declaration for the client's default 10 minutes
        factory.setChannelRpcTimeout((int) RPC_TIMEOUT.toMillis());
        try {
            switch (config.tlsMode()) {
                case NONE -> {
                }
                case VERIFIED -> {
                    factory.useSslProtocol(config.sslContext().orElse(SSLContext.getDefault()));
                    factory.enableHostnameVerification();
                }
                case INSECURE_TRUST_ALL_FOR_DEVELOPMENT_ONLY -> {
                    log.warn("TLS to RabbitMQ at {}:{} trusts ANY certificate and skips hostname verification "
                            + "(insecureTrustAllForDevelopmentOnly): never use this outside local development",
                            config.host(), config.port());
                    factory.useTlsWithNoVerification();
                }
            }
        } catch (GeneralSecurityException e) {
            throw new CourierException("cannot set up TLS for RabbitMQ at " + config.host() + ":" + config.port() + ": " + e, e);
        }
        String name = config.connectionName() + "-" + role;
        try {
            return new ConnectionWatch(name, factory.newConnection(name));
        } catch (IOException | TimeoutException | RuntimeException e) {
            throw new CourierException("cannot connect to RabbitMQ at " + (config.tlsMode() == RabbitMqConfig.TlsMode.NONE ? "amqp" : "amqps")
                    + "://" + config.username() + "@" + config.host() + ":" + config.port() + "/" + config.virtualHost()
                    + " (" + name + "): " + describe(e), e);
        }
    }

    private static String describe(Throwable e) {
        Throwable t = e;
        StringBuilder sb = new StringBuilder(String.valueOf(e));
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            sb.append("; caused by ").append(t);
        }
        return sb.toString();
    }

    ConnectionWatch(String name, Connection connection) {
        this.name = name;
        this.connection = connection;
        connection.addBlockedListener(new BlockedListener() {
            @Override
            public void handleBlocked(String reason) {
                log.warn("RabbitMQ blocked connection '{}': {}", name, reason);
                blockedReason = reason == null || reason.isBlank() ? "resource alarm" : reason;
                signal();
            }

            @Override
            public void handleUnblocked() {
                log.info("RabbitMQ unblocked connection '{}'", name);
                blockedReason = null;
                signal();
            }
        });
        connection.addShutdownListener(cause -> {
            if (!cause.isInitiatedByApplication()) {
                log.warn("connection '{}' to RabbitMQ lost: {}; recovering", name, cause.getMessage());
            }
            // a lost connection is no longer blocked; the new one starts unblocked
            blockedReason = null;
            signal();
        });
        ((Recoverable) connection).addRecoveryListener(new RecoveryListener() {
            @Override
            public void handleRecovery(Recoverable recoverable) {
                log.info("connection '{}' to RabbitMQ recovered", name);
                signal();
                for (Runnable r : onRecovery) {
                    try {
                        r.run();
                    } catch (RuntimeException e) {
                        log.warn("recovery callback on connection '{}' failed", name, e);
                    }
                }
            }

            @Override
            public void handleRecoveryStarted(Recoverable recoverable) {
                // nothing to do: waiters notice the closed connection themselves
            }
        });
    }

    private void signal() {
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    /** The connection's name as shown by the broker. */
    public String name() {
        return name;
    }

    /** The underlying (auto-recovering) connection. */
    public Connection connection() {
        return connection;
    }

    /** True while the connection is open (false while it is being recovered). */
    public boolean isOpen() {
        return !closed && connection.isOpen();
    }

    /** True once {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Why the broker blocks publishing on this connection, or null when it does not. */
    public String blockedReason() {
        return blockedReason;
    }

    /** Registers {@code callback} to run (on the client's recovery thread) after each recovery. */
    public void onRecovery(Runnable callback) {
        onRecovery.add(callback);
    }

    /**
     * Waits until the connection is open, at most until {@code deadlineNanos} ({@link System#nanoTime()}).
     * Returns whether it is open.
     */
    public boolean awaitOpen(long deadlineNanos) throws InterruptedException {
        return await(deadlineNanos, () -> isOpen() || closed) && isOpen();
    }

    /**
     * Waits until the broker no longer blocks this connection, at most until {@code deadlineNanos}.
     * Returns whether it is unblocked.
     */
    public boolean awaitUnblocked(long deadlineNanos) throws InterruptedException {
        return await(deadlineNanos, () -> blockedReason == null || closed) && blockedReason == null;
    }

    private boolean await(long deadlineNanos, java.util.function.BooleanSupplier condition) throws InterruptedException {
        synchronized (monitor) {
            while (!condition.getAsBoolean()) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                // bounded wait: isOpen() can change without a callback (e.g. between recovery attempts)
                long millis = Math.max(1, Math.min(Duration.ofNanos(left).toMillis(), 100));
                monitor.wait(millis);
            }
            return true;
        }
    }

    @Override
    public void close() {
        closed = true;
        signal();
        try {
            if (connection.isOpen()) {
                connection.close(5000);
            } else {
                connection.abort();
            }
        } catch (IOException | RuntimeException e) {
            log.debug("closing connection '{}' failed", name, e);
            connection.abort();
        }
    }
}
