package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A consumer whose whole in-flight budget is taken by a slow handler still polls: it stays in its
 * group and takes part in rebalances, so another consumer can join meanwhile.
 */
class KafkaBusyConsumerTest extends KafkaTestSupport {

    private static final Duration WAIT = Duration.ofSeconds(45);

    @Test
    void anotherConsumerJoinsTheGroupWhileEveryHandlerIsBusy() throws Exception {
        String topic = unique("busy");
        String group = unique("g");
        KafkaConfig cfg = config().partitions(topic, 2).build();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> handled = new CopyOnWriteArrayList<>();
        SubscriptionOptions options = SubscriptionOptions.builder(topic, group).concurrency(1).maxInFlight(1)
                .shutdownTimeout(Duration.ofSeconds(5)).build();
        try (KafkaTransport first = KafkaTransport.create(cfg); KafkaTransport second = KafkaTransport.create(cfg)) {
            first.subscriber().subscribe(options, d -> {
                started.countDown();
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);   // the budget of one record is used up meanwhile
                handled.add(d.message().payloadAsText());
            });
            first.publisher().publish(topic, Message.builder().key("k").payload("slow".getBytes(StandardCharsets.UTF_8)).build()).join();
            assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            // Joining needs the busy consumer to poll and rejoin; otherwise subscribe times out (30 s here).
            Subscription joined = second.subscriber().subscribe(options, d -> handled.add(d.message().payloadAsText()));
            assertThat(joined.isRunning()).isTrue();

            release.countDown();
            await().atMost(WAIT).until(() -> handled.contains("slow"));
        }
    }
}
