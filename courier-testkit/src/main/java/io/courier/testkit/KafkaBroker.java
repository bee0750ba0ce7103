package io.courier.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The local broker of {@code scripts/kafka}, for tests: {@code @ExtendWith(KafkaBroker.class)} starts
 * it before a test class unless it is already running. A broker that cannot be started fails the
 * tests; it never skips them. Tests that restart or crash the broker call {@link #restart()} and
 * {@link #crash()}.
 *
 * <p>{@code COURIER_KAFKA_BOOTSTRAP} points the tests at another broker (then nothing is started).
 */
public final class KafkaBroker implements BeforeAllCallback {

    private static final String EXTERNAL = System.getenv("COURIER_KAFKA_BOOTSTRAP");
    private static boolean started;

    @Override
    public void beforeAll(ExtensionContext context) {
        ensureRunning();
    }

    /** Bootstrap servers of the test broker. */
    public static String bootstrapServers() {
        return EXTERNAL != null ? EXTERNAL : "127.0.0.1:" + System.getenv().getOrDefault("COURIER_KAFKA_PORT", "9092");
    }

    /** Runs {@code scripts/kafka start} once per JVM (a no-op when it is already running). */
    public static synchronized void ensureRunning() {
        if (EXTERNAL != null || started) {
            return;
        }
        run("start");
        started = true;
    }

    /** Stops the broker cleanly and starts it again; data is kept. */
    public static void restart() {
        requireLocal();
        run("restart");
    }

    /** Kills the broker with SIGKILL and starts it again on the same data: a crash and recovery. */
    public static void crash() {
        requireLocal();
        run("crash");
    }

    private static void requireLocal() {
        if (EXTERNAL != null) {
            throw new IllegalStateException("COURIER_KAFKA_BOOTSTRAP is set: the test cannot restart an external broker");
        }
    }

    private static void run(String command) {
        Path script = script();
        try {
            // The log lives in the module's target directory, not /tmp, where other processes clean up.
            Path dir = Files.createDirectories(Path.of(System.getProperty("user.dir"), "target"));
            Path log = Files.createTempFile(dir, "kafka-script-" + command + "-", ".log");
            Process p = new ProcessBuilder(script.toString(), command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("scripts/kafka " + command + " did not finish within 180 s:\n" + read(log));
            }
            String output = read(log);
            Files.deleteIfExists(log);
            if (p.exitValue() != 0) {
                throw new IllegalStateException("scripts/kafka " + command + " failed with exit code " + p.exitValue() + ":\n" + output);
            }
        } catch (IOException e) {
            throw new IllegalStateException("could not run " + script + " " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running scripts/kafka " + command, e);
        }
    }

    private static String read(Path log) throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    private static Path script() {
        Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            Path candidate = d.resolve("scripts").resolve("kafka");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("scripts/kafka not found above " + dir);
    }
}
