package io.courier.kafka;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy on the fixed port where the test broker advertises its {@code PROXIED} listener
 * (127.0.0.1:9095 forwarding to 127.0.0.1:9094, see {@code scripts/kafka}). Kafka clients connect to
 * the addresses the broker advertises, so a proxy on an arbitrary port (like the testkit's
 * {@code TcpProxy}) would only carry the bootstrap connection; this one carries every connection of
 * a client that bootstraps through it. {@link #cut()} resets them all and refuses new ones until
 * {@link #heal()}. One instance per JVM; thread-safe.
 */
public final class KafkaFaultProxy implements AutoCloseable {

    private static KafkaFaultProxy instance;

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile boolean cut;
    private volatile boolean closed;

    private KafkaFaultProxy(int listenPort, int targetPort) throws IOException {
        this.server = new ServerSocket();
        this.server.setReuseAddress(true);
        this.server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), listenPort));
        this.target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
        Thread acceptor = new Thread(this::accept, "kafka-fault-proxy-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** The JVM's proxy, started on first use (it lives until the JVM exits). */
    public static synchronized KafkaFaultProxy get() throws IOException {
        if (instance == null) {
            int listen = Integer.parseInt(System.getenv().getOrDefault("COURIER_KAFKA_PROXY_PORT", "9095"));
            int target = Integer.parseInt(System.getenv().getOrDefault("COURIER_KAFKA_PROXIED_PORT", "9094"));
            instance = new KafkaFaultProxy(listen, target);
        }
        return instance;
    }

    /** Bootstrap servers that route a client's every connection through this proxy. */
    public String bootstrapServers() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    /** Resets every open connection and refuses new ones until {@link #heal()}. */
    public void cut() {
        cut = true;
        sockets.forEach(KafkaFaultProxy::reset);
    }

    /** Accepts and forwards connections again. */
    public void heal() {
        cut = false;
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
        sockets.forEach(KafkaFaultProxy::reset);
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            if (cut) {
                reset(client);
                continue;
            }
            try {
                Socket upstream = new Socket();
                upstream.connect(target, 5000);
                sockets.add(client);
                sockets.add(upstream);
                pump(client, upstream);
                pump(upstream, client);
            } catch (IOException e) {
                reset(client);
            }
        }
    }

    private void pump(Socket from, Socket to) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[64 * 1024];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // the connection ended or was cut
            } finally {
                reset(from);
                reset(to);
            }
        }, "kafka-fault-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
