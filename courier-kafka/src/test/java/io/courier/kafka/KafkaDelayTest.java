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

    /** A long delay published first never holds back a short one published after it. */
    @Test
    void longDelayDoesNotHoldBackAShortOne() {
        String topic = unique("delay");
        Map<String, Instant> arrived = new ConcurrentHashMap<>();
        try (KafkaTransport kafka = KafkaTransport.create(config().build())) {
            kafka.subscriber().subscribe(topic, "g", d -> arrived.put(d.message().payloadAsText(), Instant.now()));
            DelayedPublisher publisher = kafka.publisher();
            Instant start = Instant.now();
            publisher.publishAfter(topic, Message.ofText("sixty"), Duration.ofSeconds(60)).join();
            publisher.publishAfter(topic, Message.ofText("one"), Duration.ofSeconds(1)).join();
            publisher.publishAfter(topic, Message.ofText("seven"), Duration.ofMillis(7300)).join();
            publisher.publishAt(topic, Message.ofText("past"), Instant.now().minusSeconds(5)).join();

            await().atMost(Duration.ofSeconds(15)).until(() -> arrived.containsKey("one") && arrived.containsKey("seven"));
            assertThat(arrived).containsKey("past").doesNotContainKey("sixty");
            assertThat(Duration.between(start, arrived.get("one"))).isBetween(Duration.ofSeconds(1), Duration.ofSeconds(6));
            assertThat(Duration.between(start, arrived.get("seven"))).isBetween(Duration.ofMillis(7300), Duration.ofSeconds(13));

            await().atMost(Duration.ofSeconds(80)).until(() -> arrived.containsKey("sixty"));
            assertThat(Duration.between(start, arrived.get("sixty"))).isBetween(Duration.ofSeconds(60), Duration.ofSeconds(70));
        }
    }
}
