package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.CourierException;
import io.courier.Message;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** TLS against a redis-server started by the test with a certificate made for it (openssl, keytool). */
class RedisTlsTest {

    private static Path dir;
    private static Path trustStore;
    private static RedisServerProcess server;

    @BeforeAll
    static void startTlsServer() throws Exception {
        dir = Files.createTempDirectory("courier-redis-tls-");
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        trustStore = dir.resolve("trust.p12");
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key.toString(), "-out", cert.toString());
        run("keytool", "-importcert", "-noprompt", "-alias", "redis", "-file", cert.toString(), "-keystore", trustStore.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit");
        server = RedisServerProcess.tls(cert, key).start();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve(command[0] + ".log").toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s exit code, see %s", command[0], dir).isZero();
    }

    @Test
    void publishesAndConsumesOverVerifiedTls() {
        RedisConfig config = RedisConfig.builder().uri(server.uri()).trustStore(trustStore, "changeit")
                .blockTimeout(Duration.ofMillis(500)).build();
        try (RedisStreamsTransport redis = RedisStreamsTransport.create(config)) {
            List<String> got = new CopyOnWriteArrayList<>();
            redis.subscriber().subscribe("secure", "g", d -> got.add(d.message().payloadAsText()));
            redis.publisher().publish("secure", Message.ofText("over tls")).join();
            await().atMost(Duration.ofSeconds(15)).until(() -> got.size() == 1);
            assertThat(got).containsExactly("over tls");
        }
    }

    @Test
    void refusesAServerWhoseCertificateIsNotTrusted() {
        RedisConfig config = RedisConfig.builder().uri(server.uri()).commandTimeout(Duration.ofSeconds(5)).build();
        assertThatThrownBy(() -> RedisStreamsTransport.create(config)).isInstanceOf(CourierException.class)
                .hasMessageContaining("cannot connect");
    }

    @Test
    void plainTextClientCannotTalkToTheTlsPort() {
        RedisConfig config = RedisConfig.builder().uri(server.uri()).tls(false).commandTimeout(Duration.ofSeconds(2)).build();
        assertThatThrownBy(() -> RedisStreamsTransport.create(config)).isInstanceOf(CourierException.class);
    }
}
