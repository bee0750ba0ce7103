package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A consumer JVM killed with SIGKILL while it handles a message: the broker returns the unacknowledged
 * message to the queue as soon as the dead process's TCP connection closes, and another consumer of
 * the group gets it as the next attempt.
 */
class ConsumerKilledTest {

    private RabbitBroker broker;
    private RabbitMqTransport transport;
    private Process child;

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
    }

    @AfterEach
    void tearDown() {
        if (child != null) {
            child.destroyForcibly();
        }
        transport.close();
        broker.close();
    }

    @Test
    void messageInFlightInAKilledJvmIsRedeliveredToAnotherConsumer() throws Exception {
        String topic = broker.topic("sigkill", "g");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), KilledConsumerMain.class.getName(), topic, "g")
                .redirectErrorStream(true).start();
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (Exception e) {
                // the child was killed
            }
        });
        reader.setDaemon(true);
        reader.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> lines.contains("READY"));

        transport.publisher().publish(topic, Message.builder().id("in-the-dying-jvm").payload(new byte[1]).build()).get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> lines.contains("STARTED in-the-dying-jvm"));
        child.destroyForcibly();   // SIGKILL: no shutdown hook, no close, no ack
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();

        BlockingQueue<String> redelivered = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(topic, "g", d -> redelivered.add(d.message().id() + " attempt " + d.attempt()));
        assertThat(redelivered.poll(20, TimeUnit.SECONDS)).isEqualTo("in-the-dying-jvm attempt 2");
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            long[] state = broker.queueState(RabbitMqConfig.groupQueueName(topic, "g"));
            return state[0] == 0 && state[1] == 0;
        });
    }
}
