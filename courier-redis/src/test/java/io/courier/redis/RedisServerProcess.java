package io.courier.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.awaitility.Awaitility;

/**
 * A redis-server owned by a test: its own free port and temporary directory, append-only file with
 * {@code appendfsync always}, started, killed with SIGKILL and restarted on the same files.
 */
final class RedisServerProcess implements AutoCloseable {

    private final int port;
    private final Path dir;
    private final List<String> extraArgs;
    private final boolean tls;
    private Process process;

    RedisServerProcess(String... extraArgs) throws IOException {
        this(false, extraArgs);
    }

    private RedisServerProcess(boolean tls, String... extraArgs) throws IOException {
        this.port = freePort();
        this.dir = Files.createTempDirectory("courier-redis-aof-");
        this.extraArgs = List.of(extraArgs);
        this.tls = tls;
    }

    /** A server that accepts TLS connections only, with the given PEM certificate and key. */
    static RedisServerProcess tls(Path certPem, Path keyPem) throws IOException {
        return new RedisServerProcess(true, "--tls-cert-file", certPem.toString(), "--tls-key-file", keyPem.toString(),
                "--tls-ca-cert-file", certPem.toString(), "--tls-auth-clients", "no");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    int port() {
        return port;
    }

    String uri() {
        return (tls ? "rediss" : "redis") + "://127.0.0.1:" + port;
    }

    /** Starts the server and waits until it answers PING (after loading its append-only file). */
    RedisServerProcess start() throws IOException {
        List<String> command = new ArrayList<>(List.of("redis-server",
                "--port", tls ? "0" : Integer.toString(port), "--bind", "127.0.0.1", "--dir", dir.toString(),
                "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                "--daemonize", "no", "--logfile", dir.resolve("redis.log").toString()));
        command.addAll(extraArgs);
        if (tls) {
            command.addAll(List.of("--tls-port", Integer.toString(port)));
        }
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
        Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(this::answersPing);
        return this;
    }

    /** Kills the server with SIGKILL: no shutdown, no final write; only what was fsynced survives. */
    void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    private boolean answersPing() {
        if (!process.isAlive()) {
            throw new IllegalStateException("redis-server exited with " + process.exitValue() + "; see " + dir);
        }
        try (Socket s = new Socket("127.0.0.1", port)) {
            if (tls) {
                return true;   // listening; a TLS server has no append-only file to load
            }
            s.setSoTimeout(1000);
            OutputStream out = s.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] reply = new byte[5];
            int n = in.read(reply);
            return n == 5 && new String(reply, StandardCharsets.US_ASCII).equals("+PONG");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() throws Exception {
        kill();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
