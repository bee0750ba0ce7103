package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Headers;
import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import io.courier.middleware.DeadLetterMiddleware;
import io.courier.middleware.RetryMiddleware;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A naive consumer nacks failures with requeue=true, so a poison message loops at full speed forever. Here,
 * behind Courier's retry and dead-letter middleware, a failing message is retried a bounded number of
 * times with a delay (durably, through the delay ladder, into its group's queue only), then
 * dead-lettered with its reason in headers, while other messages keep flowing; afterwards nothing is
 * left in the queue or unacknowledged.
 */
class PoisonMessageTest {

    private RabbitBroker broker;
    private RabbitMqTransport transport;

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
    }

    @AfterEach
    void tearDown() {
        transport.close();
        broker.close();
    }

    @Test
    void poisonMessageIsRetriedBoundedTimesThenDeadLetteredWhileOthersFlow() throws Exception {
        String topic = broker.topic("poison", "g");
        String dlq = topic + ".dlq";
        broker.trackExchange(dlq);
        broker.track(RabbitMqConfig.groupQueueName(dlq, "reader"));
        Map<String, Message> deadLetters = new ConcurrentHashMap<>();
        transport.subscriber().subscribe(dlq, "reader", d -> deadLetters.put(d.message().id(), d.message()));

        List<Long> poisonAttemptTimes = new CopyOnWriteArrayList<>();
        List<Integer> poisonAttempts = new CopyOnWriteArrayList<>();
        Set<String> good = ConcurrentHashMap.newKeySet();
        AtomicLong firstGoodAt = new AtomicLong();
        Router router = Router.builder(transport)
                .use(DeadLetterMiddleware.to(transport.publisher()))
                .use(RetryMiddleware.builder().maxAttempts(3).initialDelay(Duration.ofMillis(500)).multiplier(1.0)
                        .maxDelay(Duration.ofMillis(500)).jitter(false).build())
                .build();
        router.route(SubscriptionOptions.builder(topic, "g").concurrency(1).build(), d -> {
            if (d.message().header("poison").isPresent()) {
                poisonAttemptTimes.add(System.nanoTime());
                poisonAttempts.add(d.attempt());
                throw new IllegalStateException("cannot handle " + d.message().id());
            }
            firstGoodAt.compareAndSet(0, System.nanoTime());
            good.add(d.message().id());
        });
        router.start();

        Message poison = Message.builder().id("poison-1").header("poison", "yes").payload("bad".getBytes()).build();
        transport.publisher().publish(topic, poison).get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> !poisonAttempts.isEmpty());
        for (int i = 0; i < 30; i++) {
            transport.publisher().publish(topic, Message.builder().id("good-" + i).payload(new byte[1]).build()).get(10, TimeUnit.SECONDS);
        }

        await().atMost(Duration.ofSeconds(20)).until(() -> good.size() == 30 && deadLetters.containsKey("poison-1"));
        assertThat(poisonAttempts).as("bounded attempts, counted by the transport").containsExactly(1, 2, 3);
        assertThat(firstGoodAt.get()).as("a good message was handled while the poison one waited").isLessThan(poisonAttemptTimes.get(2));
        assertThat(poisonAttemptTimes.get(1) - poisonAttemptTimes.get(0)).as("retry waited (no hot loop)")
                .isGreaterThanOrEqualTo(Duration.ofMillis(450).toNanos());
        Message dl = deadLetters.get("poison-1");
        assertThat(dl.payload()).isEqualTo(poison.payload());
        assertThat(dl.headers()).containsEntry(Headers.ATTEMPTS, "3")
                .containsEntry(Headers.DEAD_LETTER_REASON, "max-attempts")
                .containsEntry(Headers.ORIGINAL_TOPIC, topic)
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalStateException.class.getName())
                .containsEntry("poison", "yes");
        // nothing left behind: the source queue is empty and nothing is unacknowledged
        router.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            long[] state = broker.queueState(RabbitMqConfig.groupQueueName(topic, "g"));
            return state[0] == 0 && state[1] == 0;
        });
    }
}
