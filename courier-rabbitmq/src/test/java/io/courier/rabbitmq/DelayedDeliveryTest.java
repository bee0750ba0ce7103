package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.DelayedPublisher;
import io.courier.Message;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Delayed delivery through the delay ladder: no head-of-line blocking, never early, delivered to every
 * group, and the precision actually achieved (printed for docs/transports/rabbitmq.md).
 */
class DelayedDeliveryTest {

    /** Clock granularity between this JVM and the broker; nothing may arrive earlier than this before due. */
    private static final Duration EARLY_TOLERANCE = Duration.ofMillis(50);

    private RabbitBroker broker;
    private RabbitMqTransport transport;
    private DelayedPublisher publisher;

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
        publisher = transport.publisher();
    }

    @AfterEach
    void tearDown() {
        transport.close();
        broker.close();
    }

    @Test
    void aOneSecondMessagePublishedAfterASixtySecondOneArrivesAfterAboutOneSecond() throws Exception {
        String topic = broker.topic("hol", "g");
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        transport.subscriber().subscribe(topic, "g", d -> receivedAt.put(d.message().payloadAsText(), Instant.now()));

        publisher.publishAfter(topic, Message.ofText("sixty"), Duration.ofSeconds(60)).get(10, TimeUnit.SECONDS);
        Instant shortDue = Instant.now().plusSeconds(1);
        publisher.publishAfter(topic, Message.ofText("one"), Duration.ofSeconds(1)).get(10, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(4)).until(() -> receivedAt.containsKey("one"));
        assertThat(receivedAt.get("one")).isAfterOrEqualTo(shortDue.minus(EARLY_TOLERANCE));
        assertThat(receivedAt).doesNotContainKey("sixty");
        System.out.printf("delay precision: 1 s message after a 60 s one arrived %d ms after due%n",
                Duration.between(shortDue, receivedAt.get("one")).toMillis());
    }

    @Test
    void delaysArriveNeverEarlyAndShortlyAfterDue() throws Exception {
        String topic = broker.topic("precision", "g");
        Map<String, Instant> receivedAt = new ConcurrentHashMap<>();
        transport.subscriber().subscribe(topic, "g", d -> receivedAt.put(d.message().id(), Instant.now()));

        Map<String, Instant> due = new LinkedHashMap<>();
        long[] millis = {2500, 150, 950, 1700, 400, 100, 3100, 1234};
        for (long ms : millis) {
            Message m = Message.builder().id("d" + ms).payload(new byte[] {1}).build();
            due.put(m.id(), Instant.now().plusMillis(ms));
            publisher.publishAfter(topic, m, Duration.ofMillis(ms)).get(10, TimeUnit.SECONDS);
        }
        // absolute times, a past time and zero are delivered too
        Message at = Message.builder().id("at").payload(new byte[] {2}).build();
        Instant atTime = Instant.now().plusMillis(800);
        due.put("at", atTime);
        publisher.publishAt(topic, at, atTime).get(10, TimeUnit.SECONDS);
        Message past = Message.builder().id("past").payload(new byte[] {3}).build();
        due.put("past", Instant.now());
        publisher.publishAt(topic, past, Instant.now().minusSeconds(60)).get(10, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(15)).until(() -> receivedAt.keySet().containsAll(due.keySet()));
        StringBuilder report = new StringBuilder("delay precision (ms late after due):");
        long worst = 0;
        for (Map.Entry<String, Instant> e : due.entrySet()) {
            Instant got = receivedAt.get(e.getKey());
            assertThat(got).as("%s received at (due %s)", e.getKey(), e.getValue()).isAfterOrEqualTo(e.getValue().minus(EARLY_TOLERANCE));
            long late = Duration.between(e.getValue(), got).toMillis();
            worst = Math.max(worst, late);
            report.append(' ').append(e.getKey()).append('=').append(late);
        }
        System.out.println(report + "; worst " + worst + " ms");
        // a generous correctness bound, not a performance target
        assertThat(worst).isLessThan(3000);
    }

    @Test
    void aDelayedMessageReachesEveryGroupOfTheTopic() throws Exception {
        String topic = broker.topic("delayed-groups", "a", "b", "c");
        Set<String> groups = ConcurrentHashMap.newKeySet();
        for (String g : new String[] {"a", "b", "c"}) {
            transport.subscriber().subscribe(topic, g, d -> groups.add(d.group() + ":" + d.message().payloadAsText()));
        }
        publisher.publishAfter(topic, Message.ofText("later"), Duration.ofMillis(300)).get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> groups.size() == 3);
        assertThat(groups).containsExactlyInAnyOrder("a:later", "b:later", "c:later");
    }

    @Test
    void aDelayBeyondTheLadderIsRefused() {
        assertThatThrownBy(() -> publisher.publishAfter("any", Message.ofText("x"), Duration.ofDays(100)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("delay must be at most");
    }

    @Test
    void delayedMessagesWaitOnTheBrokerNotInThisProcess() throws Exception {
        String topic = broker.topic("survives-publisher", "g");
        transport.declareGroup(topic, "g");
        publisher.publishAfter(topic, Message.ofText("outlives its publisher"), Duration.ofMillis(700)).get(10, TimeUnit.SECONDS);
        transport.close();   // nothing of Courier runs while the message waits

        await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount(RabbitMqConfig.groupQueueName(topic, "g")) == 1);
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
    }
}
