package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.DelayedPublisher;
import io.courier.Message;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class KafkaDelayTest extends KafkaTestSupport {

    /**
     * A 60 s delay published first never holds back the shorter ones published after it, and a delay
     * that takes several steps of the ladder (12.5 s: 5 s, 5 s, 1 s, 1 s, then the remainder) arrives
     * on time, never early.
     */
    @Test
    void longDelayDoesNotHoldBackShorterOnesAndMultiStepDelaysArriveOnTime() {
        String topic = unique("delay");
        Map<String, Instant> arrived = new ConcurrentHashMap<>();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            kafka.subscriber().subscribe(topic, "g", d -> arrived.put(d.message().payloadAsText(), Instant.now()));
            DelayedPublisher publisher = kafka.publisher();
            Instant start = Instant.now();
            publisher.publishAfter(topic, Message.ofText("sixty"), Duration.ofSeconds(60)).join();
            publisher.publishAfter(topic, Message.ofText("one"), Duration.ofSeconds(1)).join();
            publisher.publishAfter(topic, Message.ofText("twelve"), Duration.ofMillis(12_500)).join();
            publisher.publishAt(topic, Message.ofText("past"), Instant.now().minusSeconds(5)).join();

            await().atMost(Duration.ofSeconds(10)).until(() -> arrived.containsKey("one"));
            assertThat(arrived).containsKey("past");
            assertThat(Duration.between(start, arrived.get("one"))).isBetween(Duration.ofSeconds(1), Duration.ofSeconds(6));

            await().atMost(Duration.ofSeconds(30)).until(() -> arrived.containsKey("twelve"));
            assertThat(Duration.between(start, arrived.get("twelve"))).isBetween(Duration.ofMillis(12_500), Duration.ofSeconds(18));
            assertThat(arrived).doesNotContainKey("sixty");
            System.out.printf("delay: 1 s arrived %d ms late, 12.5 s arrived %d ms late%n",
                    Duration.between(start.plusSeconds(1), arrived.get("one")).toMillis(),
                    Duration.between(start.plusMillis(12_500), arrived.get("twelve")).toMillis());
        }
    }
}
