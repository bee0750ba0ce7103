package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults of the broker itself, made with {@code rabbitmqctl}: the application stopped and started
 * under load, and a memory alarm that blocks publishers. These change the shared broker, so each test
 * restores it in a {@code finally}.
 */
class BrokerFaultTest {

    private RabbitBroker broker;
    private RabbitMqTransport transport;

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
    }

    @AfterEach
    void tearDown() {
        if (transport != null) {
            transport.close();
        }
        broker.close();
    }

    @Test
    void everyConfirmedMessageIsConsumedAcrossABrokerRestartUnderLoad() throws Exception {
        transport = RabbitMqTransport.connect(RabbitBroker.config()
                .recoveryInterval(Duration.ofMillis(500))
                .recoveryTimeout(Duration.ofSeconds(60))
                .build());
        String topic = broker.topic("restart", "g");
        Set<String> consumed = ConcurrentHashMap.newKeySet();
        transport.subscriber().subscribe(SubscriptionOptions.builder(topic, "g").concurrency(8).maxInFlight(100).build(),
                d -> consumed.add(d.message().id()));

        int publishers = 100;
        int perPublisher = 100;
        Set<String> confirmed = ConcurrentHashMap.newKeySet();
        AtomicInteger failuresRetried = new AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean restarted = new java.util.concurrent.atomic.AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(publishers);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int p = 0; p < publishers; p++) {
            int publisher = p;
            done.add(pool.submit(() -> {
                start.await();
                // at least perPublisher messages each, and on until the broker is back: the restart always hits a running load
                for (int i = 0; i < perPublisher || !restarted.get(); i++) {
                    Message m = Message.builder().id("p" + publisher + "-" + i).payload(new byte[100]).build();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                    while (true) {
                        try {
                            confirmed.add(transport.publisher().publish(topic, m).get(90, TimeUnit.SECONDS).messageId());
                            break;
                        } catch (ExecutionException e) {
                            // not confirmed: the outcome is unknown, so publish again (a duplicate is fine)
                            assertThat(e.getCause()).isInstanceOf(PublishException.class);
                            failuresRetried.incrementAndGet();
                            if (System.nanoTime() > deadline) {
                                throw e;
                            }
                        }
                    }
                }
                return null;
            }));
        }
        start.countDown();
        await().atMost(Duration.ofSeconds(60)).until(() -> confirmed.size() >= 500);
        int confirmedAtStop;
        try {
            RabbitBroker.rabbitmqctl(Duration.ofSeconds(60), "stop_app");
            confirmedAtStop = confirmed.size();
            Thread.sleep(1000);   // the length of the outage, not a wait for a result
        } finally {
            RabbitBroker.rabbitmqctl(Duration.ofSeconds(120), "start_app");
            restarted.set(true);
        }
        int confirmedAtStart = confirmed.size();
        for (Future<?> f : done) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();
        System.out.printf("broker restart: %d confirmed when the broker stopped, %d when it was back, %d in all, "
                + "%d publishes failed clearly and were repeated%n", confirmedAtStop, confirmedAtStart, confirmed.size(), failuresRetried.get());
        assertThat(confirmed.size()).as("messages confirmed after the broker came back").isGreaterThan(confirmedAtStart);
        assertThat(confirmed.size()).isGreaterThanOrEqualTo(publishers * perPublisher);
        await().atMost(Duration.ofSeconds(60)).until(() -> consumed.containsAll(confirmed));
        String queue = RabbitMqConfig.groupQueueName(topic, "g");
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            long[] state = broker.queueState(queue);
            return state[0] == 0 && state[1] == 0;
        });
    }

    @Test
    void aMemoryAlarmMakesPublishFailClearlyWithinTheTimeoutAndPublishingResumesAfterIt() throws Exception {
        transport = RabbitMqTransport.connect(RabbitBroker.config().publishConfirmTimeout(Duration.ofSeconds(2)).build());
        String topic = broker.topic("alarm", "g");
        transport.declareGroup(topic, "g");
        transport.publisher().publish(topic, Message.ofText("before")).get(10, TimeUnit.SECONDS);
        try {
            RabbitBroker.rabbitmqctl(Duration.ofSeconds(30), "set_vm_memory_high_watermark", "0");
            for (int i = 0; i < 3; i++) {
                long started = System.nanoTime();
                Throwable failure = null;
                try {
                    transport.publisher().publish(topic, Message.ofText("during alarm " + i)).get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    failure = e.getCause();
                }
                long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                assertThat(failure).as("publish %d during a memory alarm must not report success", i)
                        .isInstanceOf(PublishException.class);
                assertThat(failure.getMessage()).containsAnyOf("blocking publishers", "did not confirm");
                assertThat(tookMillis).as("ms until the publish failed (confirm timeout 2 s)").isLessThan(10_000);
                System.out.println("memory alarm: publish failed after " + tookMillis + " ms: " + failure.getMessage());
            }
        } finally {
            RabbitBroker.rabbitmqctl(Duration.ofSeconds(30), "set_vm_memory_high_watermark", "0.4");
        }
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                .until(() -> transport.publisher().publish(topic, Message.ofText("after")).get(5, TimeUnit.SECONDS) != null);
    }
}
