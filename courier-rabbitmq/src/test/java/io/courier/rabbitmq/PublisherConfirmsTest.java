package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A naive publisher shares one channel between threads and re-enables confirms (with a new
 * listener) on every publish, so confirms get matched to the wrong message. These tests publish from
 * many threads at once and with thousands of confirms outstanding, and check every future reports its
 * own message and every confirmed message is consumed.
 */
class PublisherConfirmsTest {

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
    void hundredThreadsPublishingConcurrentlyAllGetTheirOwnConfirmAndEveryMessageIsConsumed() throws Exception {
        String topic = broker.topic("concurrent", "g");
        Set<String> consumed = ConcurrentHashMap.newKeySet();
        transport.subscriber().subscribe(io.courier.SubscriptionOptions.builder(topic, "g").concurrency(8).maxInFlight(200).build(),
                d -> consumed.add(d.message().id()));

        int threads = 100;
        int perThread = 50;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<List<String>>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            results.add(pool.submit(() -> {
                start.await();
                List<String> confirmed = new ArrayList<>();
                for (int i = 0; i < perThread; i++) {
                    Message m = Message.builder().id("t" + thread + "-m" + i).payload(new byte[100]).build();
                    PublishResult r = transport.publisher().publish(topic, m).get(30, TimeUnit.SECONDS);
                    assertThat(r.messageId()).isEqualTo(m.id());
                    confirmed.add(r.messageId());
                }
                return confirmed;
            }));
        }
        start.countDown();
        Set<String> confirmed = ConcurrentHashMap.newKeySet();
        for (Future<List<String>> f : results) {
            confirmed.addAll(f.get(120, TimeUnit.SECONDS));   // rethrows any publish failure
        }
        pool.shutdown();
        assertThat(confirmed).hasSize(threads * perThread);
        await().atMost(Duration.ofSeconds(60)).until(() -> consumed.containsAll(confirmed));
    }

    @Test
    void tenThousandOutstandingConfirmsAreEachMatchedToTheirMessage() throws Exception {
        // The point is matching, not speed: a confirm timeout that a loaded machine cannot miss.
        try (RabbitMqTransport transport = RabbitMqTransport.connect(RabbitBroker.config()
                .publishConfirmTimeout(Duration.ofSeconds(60)).build())) {
            tenThousandOutstandingConfirms(transport);
        }
    }

    private void tenThousandOutstandingConfirms(RabbitMqTransport transport) throws Exception {
        String topic = broker.topic("outstanding", "g");
        transport.declareGroup(topic, "g");
        List<Message> messages = new ArrayList<>();
        List<CompletableFuture<PublishResult>> futures = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            Message m = Message.builder().id("m-" + i).payload(new byte[16]).build();
            messages.add(m);
            futures.add(transport.publisher().publish(topic, m));   // no waiting: thousands in flight
        }
        for (int i = 0; i < futures.size(); i++) {
            assertThat(futures.get(i).get(60, TimeUnit.SECONDS).messageId()).isEqualTo(messages.get(i).id());
        }
        String queue = RabbitMqConfig.groupQueueName(topic, "g");
        await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount(queue) == 10_000);
    }
}
