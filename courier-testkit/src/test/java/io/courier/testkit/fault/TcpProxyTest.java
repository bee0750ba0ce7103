package io.courier.testkit.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TcpProxyTest {

    private ServerSocket echoServer;
    private TcpProxy proxy;

    @BeforeEach
    void startEchoServerAndProxy() throws IOException {
        echoServer = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(() -> {
            while (!echoServer.isClosed()) {
                try {
                    Socket s = echoServer.accept();
                    Thread echo = new Thread(() -> echo(s));
                    echo.setDaemon(true);
                    echo.start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        proxy = TcpProxy.start("127.0.0.1", echoServer.getLocalPort());
    }

    private static void echo(Socket s) {
        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
            in.transferTo(out);
        } catch (IOException ignored) {
            // peer went away
        }
    }

    @AfterEach
    void stop() throws IOException {
        proxy.close();
        echoServer.close();
    }

    private Socket connect() throws IOException {
        Socket s = new Socket(proxy.host(), proxy.port());
        s.setSoTimeout(5000);
        return s;
    }

    private static String roundTrip(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
        byte[] buf = s.getInputStream().readNBytes(text.length());
        return new String(buf, StandardCharsets.UTF_8);
    }

    @Test
    void forwardsBothWays() throws IOException {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "ping")).isEqualTo("ping");
            assertThat(roundTrip(s, "pong")).isEqualTo("pong");
        }
    }

    @Test
    void cutDropsOpenConnectionsAndRefusesNewOnesUntilHealed() throws IOException {
        Socket open = connect();
        assertThat(roundTrip(open, "before")).isEqualTo("before");

        proxy.cut();
        assertThatThrownBy(() -> {
            roundTrip(open, "during");
            if (open.getInputStream().read() < 0) {
                throw new IOException("closed");
            }
        }).isInstanceOf(IOException.class);
        try (Socket refused = connect()) {
            assertThatThrownBy(() -> {
                if (refused.getInputStream().read() < 0) {
                    throw new IOException("closed at once");
                }
            }).isInstanceOf(IOException.class);
        }

        proxy.heal();
        try (Socket again = connect()) {
            assertThat(roundTrip(again, "after")).isEqualTo("after");
        }
        open.close();
    }

    @Test
    void blackholeStallsTrafficWithoutLosingBytes() throws Exception {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "a")).isEqualTo("a");
            proxy.blackhole();
            s.setSoTimeout(300);
            s.getOutputStream().write("stalled".getBytes(StandardCharsets.UTF_8));
            assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);

            proxy.heal();
            s.setSoTimeout(5000);
            assertThat(new String(s.getInputStream().readNBytes(7), StandardCharsets.UTF_8)).isEqualTo("stalled");
        }
    }

    @Test
    void closeDropsEveryConnection() throws Exception {
        Socket s = connect();
        assertThat(roundTrip(s, "x")).isEqualTo("x");
        proxy.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.openSockets() == 0);
        assertThatThrownBy(() -> {
            if (s.getInputStream().read() < 0) {
                throw new IOException("closed");
            }
        }).isInstanceOf(IOException.class);
        s.close();
    }
}
