package io.courier.testkit.fault;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy on {@code 127.0.0.1} for fault tests: point the transport at {@link #port()} instead
 * of the broker's port, then break the network between them on demand.
 *
 * <pre>{@code
 * try (TcpProxy proxy = TcpProxy.start("127.0.0.1", 5672)) {
 *     Transport transport = RabbitTransport.connect("amqp://guest:guest@127.0.0.1:" + proxy.port());
 *     ...
 *     proxy.cut();       // every open connection is reset, new ones are refused
 *     proxy.heal();      // connections work again; the transport must reconnect by itself
 * }
 * }</pre>
 *
 * <ul>
 *   <li>{@link #cut()} resets every open connection (both sides see a reset at once) and closes each
 *       new one as soon as it is accepted, like a broker that went away;</li>
 *   <li>{@link #blackhole()} stops forwarding bytes in both directions without closing anything, and
 *       new connections are accepted but go nowhere, like a network partition: only heartbeats and
 *       timeouts can tell;</li>
 *   <li>{@link #heal()} ends either fault; stalled connections resume with no byte lost.</li>
 * </ul>
 * Thread-safe. {@link #close()} stops the proxy and closes every connection.
 */
public final class TcpProxy implements AutoCloseable {

    private enum Mode { FORWARD, CUT, BLACKHOLE }

    private final InetSocketAddress target;
    private final ServerSocket server;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final Object modeLock = new Object();
    private final AtomicInteger accepted = new AtomicInteger();
    private volatile Mode mode = Mode.FORWARD;
    private volatile boolean closed;

    private TcpProxy(InetSocketAddress target, ServerSocket server) {
        this.target = target;
        this.server = server;
        Thread acceptor = new Thread(this::acceptLoop, "tcp-proxy-" + server.getLocalPort() + "-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /**
     * Starts a proxy on an ephemeral port of {@code 127.0.0.1} forwarding to {@code targetHost:targetPort}.
     *
     * @throws IOException if no local port can be bound
     */
    public static TcpProxy start(String targetHost, int targetPort) throws IOException {
        Objects.requireNonNull(targetHost, "targetHost");
        if (targetPort < 1 || targetPort > 65535) {
            throw new IllegalArgumentException("targetPort must be in 1..65535, but was " + targetPort);
        }
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        return new TcpProxy(new InetSocketAddress(targetHost, targetPort), server);
    }

    /** The host clients connect to: {@code 127.0.0.1}. */
    public String host() {
        return server.getInetAddress().getHostAddress();
    }

    /** The local port clients connect to. */
    public int port() {
        return server.getLocalPort();
    }

    /** Connections accepted since the proxy started, refused ones included. */
    public int acceptedConnections() {
        return accepted.get();
    }

    /** Connections currently open through the proxy (client side and target side each count one). */
    public int openSockets() {
        return sockets.size();
    }

    /** Resets every open connection and refuses new ones until {@link #heal()}. */
    public void cut() {
        synchronized (modeLock) {
            mode = Mode.CUT;
            modeLock.notifyAll();
        }
        for (Socket s : sockets) {
            reset(s);
        }
    }

    /** Stops forwarding in both directions, closing nothing, until {@link #heal()}. */
    public void blackhole() {
        synchronized (modeLock) {
            mode = Mode.BLACKHOLE;
        }
    }

    /** Forwards again; new connections are accepted and stalled ones resume. */
    public void heal() {
        synchronized (modeLock) {
            mode = Mode.FORWARD;
            modeLock.notifyAll();
        }
    }

    /** Stops accepting and closes every connection. Idempotent. */
    @Override
    public void close() {
        closed = true;
        heal();
        try {
            server.close();
        } catch (IOException ignored) {
            // closing a listening socket cannot fail in a way that matters here
        }
        for (Socket s : sockets) {
            reset(s);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;   // server socket closed
            }
            accepted.incrementAndGet();
            if (mode == Mode.CUT) {
                reset(client);
                continue;
            }
            Thread t = new Thread(() -> connect(client), "tcp-proxy-" + port() + "-connect");
            t.setDaemon(true);
            t.start();
        }
    }

    private void connect(Socket client) {
        sockets.add(client);
        Socket upstream = new Socket();
        try {
            awaitForwarding();   // a blackholed proxy accepts but does not reach the target
            if (mode == Mode.CUT || closed) {
                throw new SocketException("proxy is cut");
            }
            client.setTcpNoDelay(true);
            upstream.setTcpNoDelay(true);
            sockets.add(upstream);
            upstream.connect(target, 10_000);
        } catch (IOException | InterruptedException e) {
            reset(client);
            reset(upstream);
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        startPump(client, upstream, "up");
        startPump(upstream, client, "down");
    }

    private void startPump(Socket from, Socket to, String direction) {
        Thread t = new Thread(() -> pump(from, to), "tcp-proxy-" + port() + "-" + direction);
        t.setDaemon(true);
        t.start();
    }

    private void pump(Socket from, Socket to) {
        byte[] buffer = new byte[16 * 1024];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            while (true) {
                awaitForwarding();
                int n = in.read(buffer);
                if (n < 0) {
                    break;
                }
                awaitForwarding();   // bytes read before a blackhole wait here, none is lost
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
        reset(from);
        reset(to);
    }

    private void awaitForwarding() throws InterruptedException, SocketException {
        synchronized (modeLock) {
            while (mode == Mode.BLACKHOLE && !closed) {
                modeLock.wait();
            }
            if (mode == Mode.CUT) {
                throw new SocketException("proxy is cut");
            }
        }
    }

    private void reset(Socket s) {
        sockets.remove(s);
        try {
            if (!s.isClosed()) {
                s.setSoLinger(true, 0);   // RST instead of FIN: the peer learns at once
            }
        } catch (IOException ignored) {
            // the socket is already unusable; closing it below is all that is left
        }
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing more to release
        }
    }

    @Override
    public String toString() {
        return "TcpProxy[127.0.0.1:" + port() + " -> " + target.getHostString() + ":" + target.getPort() + ", " + mode + "]";
    }
}
