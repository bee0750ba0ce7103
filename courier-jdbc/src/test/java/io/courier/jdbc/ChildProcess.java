package io.courier.jdbc;

import io.courier.Message;
import io.courier.SubscriptionOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * A second process for the SQLite sharing tests, started with the test classpath:
 * {@code publish <file> <topic> <count>} publishes and exits; {@code hang <file> <topic> <group>}
 * claims one message, prints {@code handling <payload>} and never finishes (until killed).
 */
public final class ChildProcess {

    private ChildProcess() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[1]);
        try (JdbcTransport t = JdbcTransport.sqlite(file).build()) {
            switch (args[0]) {
                case "publish" -> {
                    List<Message> batch = new ArrayList<>();
                    for (int i = 0; i < Integer.parseInt(args[3]); i++) {
                        batch.add(Message.ofText("from child " + i));
                    }
                    t.publisher().publishAll(args[2], batch).join();
                }
                case "hang" -> {
                    t.subscriber().subscribe(SubscriptionOptions.builder(args[2], args[3]).concurrency(1).maxInFlight(1)
                            .leaseTimeout(Duration.ofSeconds(1)).build(), d -> {
                                System.out.println("handling " + d.message().payloadAsText());
                                System.out.flush();
                                new CountDownLatch(1).await();
                            });
                    new CountDownLatch(1).await();
                }
                default -> throw new IllegalArgumentException("unknown mode " + args[0]);
            }
        }
    }

    /** Starts {@code ChildProcess} with {@code args} in a new JVM. */
    static Process start(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                ChildProcess.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }
}
