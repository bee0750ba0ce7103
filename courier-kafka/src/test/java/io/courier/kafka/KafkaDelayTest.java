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
            Instant sixtyDue = Instant.now().plusSeconds(60);
            publisher.publishAt(topic, Message.ofText("sixty"), sixtyDue).join();
            Instant oneDue = Instant.now().plusSeconds(1);
            publisher.publishAt(topic, Message.ofText("one"), oneDue).join();
            Instant twelveDue = Instant.now().plusMillis(12_500);
            publisher.publishAt(topic, Message.ofText("twelve"), twelveDue).join();
            publisher.publishAt(topic, Message.ofText("past"), Instant.now().minusSeconds(5)).join();

            // Never early; late by milliseconds once the forwarder runs, but by up to its session
            // timeout (10 s) while its group waits for a forwarder of an earlier test that did not
            // leave in time, so the upper bounds are generous.
            await().atMost(Duration.ofSeconds(20)).until(() -> arrived.containsKey("one"));
            assertThat(arrived).containsKey("past");
            assertThat(arrived.get("one")).isBetween(oneDue, oneDue.plusSeconds(15)).isBefore(sixtyDue);

            await().atMost(Duration.ofSeconds(40)).until(() -> arrived.containsKey("twelve"));
            assertThat(arrived.get("twelve")).isBetween(twelveDue, twelveDue.plusSeconds(15)).isBefore(sixtyDue);
            assertThat(arrived).doesNotContainKey("sixty");
            System.out.printf("delay: 1 s arrived %d ms late, 12.5 s arrived %d ms late%n",
                    Duration.between(oneDue, arrived.get("one")).toMillis(),
                    Duration.between(twelveDue, arrived.get("twelve")).toMillis());
        }
    }
}
