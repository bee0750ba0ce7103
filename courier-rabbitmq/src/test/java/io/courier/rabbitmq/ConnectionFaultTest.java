package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import io.courier.testkit.fault.TcpProxy;
import org.junit.jupiter.api.Test;

/**
 * Network faults injected with a TCP proxy between the transport and the broker: connections cut
 * while publishing and consuming, a consumer that dies mid-message. A naive client has no reconnection at
 * all; here publishers wait for recovery or fail clearly, consumers resume, nothing confirmed is lost.
 */
class ConnectionFaultTest {

    private RabbitBroker broker;
    private TcpProxy proxy;
    private final List<RabbitMqTransport> transports = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        broker = new RabbitBroker();
        proxy = TcpProxy.start(RabbitBroker.HOST, RabbitBroker.PORT);
    }

    @AfterEach
    void tearDown() {
        proxy.heal();
        transports.forEach(RabbitMqTransport::close);
        proxy.close();
        broker.close();
    }

    private RabbitMqTransport viaProxy(Duration recoveryTimeout) {
        RabbitMqTransport t = RabbitMqTransport.connect(RabbitBroker.config()
                .port(proxy.port())
                .heartbeat(Duration.ofSeconds(2))
                .recoveryInterval(Duration.ofMillis(300))
                .recoveryTimeout(recoveryTimeout)
                .build());
        transports.add(t);
        return t;
    }

    @Test
    void publisherAndConsumerRecoverFromACutAndNothingConfirmedIsLost() throws Exception {
        RabbitMqTransport transport = viaProxy(Duration.ofSeconds(20));
        String topic = broker.topic("cut", "g");
        Set<String> consumed = ConcurrentHashMap.newKeySet();
        transport.subscriber().subscribe(SubscriptionOptions.builder(topic, "g").concurrency(2).build(),
                d -> consumed.add(d.message().id()));
        for (int i = 0; i < 20; i++) {
            transport.publisher().publish(topic, Message.builder().id("before-" + i).payload(new byte[1]).build()).get(10, TimeUnit.SECONDS);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> consumed.size() == 20);
        int connectionsBefore = proxy.acceptedConnections();

        // many publishes in flight when the connection is cut
        Map<String, CompletableFuture<PublishResult>> inFlight = new LinkedHashMap<>();
        for (int i = 0; i < 2000; i++) {
            Message m = Message.builder().id("inflight-" + i).payload(new byte[64]).build();
            inFlight.put(m.id(), transport.publisher().publish(topic, m));
        }
        proxy.cut();
        // once the client noticed (every in-flight publish settled: confirmed before the cut, or failed),
        // publishes wait for the recovery (recoveryTimeout 20 s)
        await().atMost(Duration.ofSeconds(20)).until(() -> inFlight.values().stream().allMatch(CompletableFuture::isDone));
        Map<String, CompletableFuture<PublishResult>> duringCut = new LinkedHashMap<>();
        for (int i = 0; i < 10; i++) {
            Message m = Message.builder().id("during-" + i).payload(new byte[1]).build();
            duringCut.put(m.id(), CompletableFuture.supplyAsync(() -> transport.publisher().publish(topic, m)).thenCompose(f -> f));
        }
        Thread.sleep(2000);   // the length of the fault, not a wait for a result
        proxy.heal();

        Set<String> confirmed = ConcurrentHashMap.newKeySet();
        int failedClearly = 0;
        for (Map.Entry<String, CompletableFuture<PublishResult>> e : inFlight.entrySet()) {
            try {
                confirmed.add(e.getValue().get(30, TimeUnit.SECONDS).messageId());
            } catch (ExecutionException failed) {
                assertThat(failed.getCause()).isInstanceOf(PublishException.class);
                failedClearly++;
            }
        }
        for (Map.Entry<String, CompletableFuture<PublishResult>> e : duringCut.entrySet()) {
            confirmed.add(e.getValue().get(30, TimeUnit.SECONDS).messageId());   // waited for recovery, then succeeded
        }
        System.out.printf("connection cut: %d of %d in-flight publishes confirmed, %d failed with PublishException%n",
                confirmed.size() - duringCut.size(), inFlight.size(), failedClearly);
        assertThat(proxy.acceptedConnections()).as("the transport reconnected").isGreaterThan(connectionsBefore);

        // the consumer resumed by itself, and everything confirmed is consumed
        Message after = Message.builder().id("after-heal").payload(new byte[1]).build();
        confirmed.add(transport.publisher().publish(topic, after).get(10, TimeUnit.SECONDS).messageId());
        await().atMost(Duration.ofSeconds(30)).until(() -> consumed.containsAll(confirmed));
    }

    @Test
    void publishFailsClearlyWhenTheConnectionDoesNotRecoverInTime() throws Exception {
        RabbitMqTransport transport = viaProxy(Duration.ofSeconds(1));
        String topic = broker.topic("no-recovery", "g");
        transport.declareGroup(topic, "g");
        proxy.cut();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            CompletableFuture<PublishResult> f = transport.publisher().publish(topic, Message.ofText("x"));
            try {
                f.get(10, TimeUnit.SECONDS);
                return false;
            } catch (ExecutionException e) {
                return e.getCause() instanceof PublishException
                        && e.getCause().getMessage().contains("did not recover within PT1S (recoveryTimeout)");
            }
        });
        proxy.heal();
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                .until(() -> transport.publisher().publish(topic, Message.ofText("y")).get(10, TimeUnit.SECONDS) != null);
    }

    @Test
    void messageInFlightInAConsumerThatLosesItsConnectionGoesToAnotherConsumerAsTheNextAttempt() throws Exception {
        RabbitMqTransport dying = viaProxy(Duration.ofSeconds(5));
        RabbitMqTransport healthy = RabbitMqTransport.connect(RabbitBroker.config().build());
        transports.add(healthy);
        String topic = broker.topic("consumer-dies", "g");
        CountDownLatch inHandler = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        dying.subscriber().subscribe(topic, "g", d -> {
            inHandler.countDown();
            never.await(60, TimeUnit.SECONDS);
        });
        healthy.publisher().publish(topic, Message.builder().id("orphan").payload(new byte[1]).build()).get(10, TimeUnit.SECONDS);
        assertThat(inHandler.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(broker.queueState(RabbitMqConfig.groupQueueName(topic, "g"))).containsExactly(0, 1);

        proxy.cut();   // the consumer's connection dies with the message unacknowledged
        BlockingQueue<Integer> attempts = new LinkedBlockingQueue<>();
        healthy.subscriber().subscribe(topic, "g", d -> attempts.add(d.attempt()));
        assertThat(attempts.poll(20, TimeUnit.SECONDS)).as("attempt of the redelivered message").isEqualTo(2);
        never.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            long[] state = broker.queueState(RabbitMqConfig.groupQueueName(topic, "g"));
            return state[0] == 0 && state[1] == 0;
        });
    }
}
