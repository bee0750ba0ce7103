package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.BatchPublishException;
import io.courier.Headers;
import io.courier.KeyOrderedSubscriber;
import io.courier.Message;
import io.courier.MessageOrdering;
import io.courier.MessageTooLargeException;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.SubscriptionOptions;
import io.courier.Subscription;
import io.courier.TransportOption;
import io.courier.rabbitmq.internal.PartitionedSubscription;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
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
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class RabbitMqTransportTest {

    private RabbitBroker broker;
    private RabbitMqTransport transport;

    @BeforeEach
    void setUp() {
        broker = new RabbitBroker();
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
    }

    @AfterEach
    void tearDown() {
        if (transport != null) {
            transport.close();
        }
        broker.close();
    }

    @Test
    void roundTripKeepsIdKeyHeadersTimestampAndPayload() throws Exception {
        String topic = broker.topic("roundtrip", "g");
        BlockingQueue<io.courier.Delivery> received = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(topic, "g", received::add);

        Instant ts = Instant.parse("2024-05-06T07:08:09.123456Z");
        Message sent = Message.builder()
                .id("msg-1").key("order-42")
                .header(Headers.CONTENT_TYPE, "application/json")
                .header(Headers.CORRELATION_ID, "corr-7")
                .header(Headers.EVENT_TYPE, "order.created")
                .header(Headers.EVENT_SOURCE, "/orders")
                .header("x-custom", "ünïcode value")
                .payload("{\"n\":1}".getBytes())
                .timestamp(ts)
                .build();
        PublishResult result = transport.publisher().publish(topic, sent).get(10, TimeUnit.SECONDS);
        assertThat(result.messageId()).isEqualTo("msg-1");
        assertThat(result.topic()).isEqualTo(topic);

        io.courier.Delivery d = received.poll(10, TimeUnit.SECONDS);
        assertThat(d).isNotNull();
        assertThat(d.message()).isEqualTo(sent);
        assertThat(d.attempt()).isEqualTo(1);
        assertThat(d.topic()).isEqualTo(topic);
        assertThat(d.group()).isEqualTo("g");
    }

    @Test
    void everyGroupGetsEveryMessageAndConsumersOfAGroupCompete() throws Exception {
        String topic = broker.topic("groups", "a", "b");
        Map<String, Set<String>> seenBy = new ConcurrentHashMap<>();
        AtomicInteger consumerA1 = new AtomicInteger();
        AtomicInteger consumerA2 = new AtomicInteger();
        transport.subscriber().subscribe(topic, "a", d -> {
            consumerA1.incrementAndGet();
            seenBy.computeIfAbsent("a", k -> ConcurrentHashMap.newKeySet()).add(d.message().id());
            Thread.sleep(5);
        });
        transport.subscriber().subscribe(topic, "a", d -> {
            consumerA2.incrementAndGet();
            seenBy.computeIfAbsent("a", k -> ConcurrentHashMap.newKeySet()).add(d.message().id());
            Thread.sleep(5);
        });
        transport.subscriber().subscribe(topic, "b", d -> seenBy.computeIfAbsent("b", k -> ConcurrentHashMap.newKeySet()).add(d.message().id()));

        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            batch.add(Message.ofText("m" + i));
        }
        List<PublishResult> results = transport.publisher().publishAll(topic, batch).get(20, TimeUnit.SECONDS);
        assertThat(results).hasSize(200);

        await().atMost(Duration.ofSeconds(20)).until(() -> seenBy.getOrDefault("a", Set.of()).size() == 200
                && seenBy.getOrDefault("b", Set.of()).size() == 200);
        assertThat(consumerA1.get()).isPositive();
        assertThat(consumerA2.get()).isPositive();
        assertThat(consumerA1.get() + consumerA2.get()).isEqualTo(200);
    }

    @Test
    void publishToATopicWithoutAnyGroupFailsAsUnroutable() {
        String topic = broker.topic("unroutable");
        CompletableFuture<PublishResult> f = transport.publisher().publish(topic, Message.ofText("nobody listens"));
        assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(PublishException.class)
                .hasMessageContaining("unroutable")
                .hasMessageContaining("NO_ROUTE")
                .hasMessageContaining(topic);
    }

    @Test
    void preDeclaredGroupKeepsMessagesPublishedBeforeItsFirstSubscription() throws Exception {
        transport.close();
        String topic = broker.topic("early", "late-joiner");
        transport = RabbitMqTransport.connect(RabbitBroker.config().declareGroups(topic, "late-joiner").build());
        for (int i = 0; i < 5; i++) {
            transport.publisher().publish(topic, Message.ofText("early-" + i)).get(10, TimeUnit.SECONDS);
        }
        assertThat(broker.messageCount(RabbitMqConfig.groupQueueName(topic, "late-joiner"))).isEqualTo(5);

        Set<String> got = ConcurrentHashMap.newKeySet();
        transport.subscriber().subscribe(topic, "late-joiner", d -> got.add(d.message().payloadAsText()));
        await().atMost(Duration.ofSeconds(10)).until(() -> got.size() == 5);
    }

    @Test
    void newSubscriberOfAnExistingGroupReceivesMessagesPublishedWhileNoneWasRunning() throws Exception {
        String topic = broker.topic("resume", "g");
        Subscription first = transport.subscriber().subscribe(topic, "g", d -> { });
        first.close();
        transport.publisher().publish(topic, Message.ofText("while away")).get(10, TimeUnit.SECONDS);
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(topic, "g", d -> got.add(d.message().payloadAsText()));
        assertThat(got.poll(10, TimeUnit.SECONDS)).isEqualTo("while away");
    }

    @Test
    void batchReportsEachMessagesOutcome() {
        transport.close();
        String topic = broker.topic("batch", "g");
        transport = RabbitMqTransport.connect(RabbitBroker.config().maxPayloadBytes(10).declareGroups(topic, "g").build());
        Message ok1 = Message.ofText("small");
        Message tooBig = Message.ofText("this payload is far too large");
        Message ok2 = Message.ofText("tiny");
        CompletableFuture<List<PublishResult>> f = transport.publisher().publishAll(topic, List.of(ok1, tooBig, ok2));
        assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS)).cause().isInstanceOfSatisfying(BatchPublishException.class, e -> {
            assertThat(e.outcomes()).hasSize(3);
            assertThat(e.outcomes().get(0).result()).isPresent();
            assertThat(e.outcomes().get(1).failure()).get().isInstanceOf(MessageTooLargeException.class);
            assertThat(e.outcomes().get(2).result()).isPresent();
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> broker.messageCount(RabbitMqConfig.groupQueueName(topic, "g")) == 2);
    }

    @Test
    void oversizePayloadIsRefusedBeforeSending() {
        transport.close();
        transport = RabbitMqTransport.connect(RabbitBroker.config().maxPayloadBytes(4).build());
        assertThatThrownBy(() -> transport.publisher().publish("any", Message.ofText("12345")))
                .isInstanceOf(MessageTooLargeException.class)
                .hasMessageContaining("over the limit of 4 bytes");
    }

    @Test
    void aMaxInFlightThePrefetchCountCannotHoldIsRefusedAtSubscribe() {
        String topic = broker.topic("wide", "g");
        assertThatThrownBy(() -> transport.subscriber().subscribe(
                SubscriptionOptions.builder(topic, "g").maxInFlight(65_536).build(), d -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxInFlight must be at most 65535 on RabbitMQ (the basic.qos prefetch count is 16-bit), but was 65536");
    }

    @Test
    void keyOrderingIsRefusedWithoutKeyOrderedModeBeforeAnyQueueIsDeclared() {
        String topic = broker.topic("unordered", "g");
        assertThat(transport.subscriber()).isNotInstanceOf(KeyOrderedSubscriber.class);
        assertThatThrownBy(() -> transport.subscriber().subscribe(
                SubscriptionOptions.builder(topic, "g").ordering(MessageOrdering.KEY).build(), d -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the subscription to topic '" + topic + "', group 'g' asks for ordering"
                        + " MessageOrdering.KEY, but this rabbitmq transport does not keep per-key order")
                .hasMessageContaining("RabbitMqConfig.builder().keyOrdering(partitions)");
        assertThat(broker.queueExists(RabbitMqConfig.groupQueueName(topic, "g"))).isFalse();
    }

    @Test
    void keyOrderingIsAcceptedInKeyOrderedMode() {
        String topic = broker.topic("ordered");
        for (int p = 0; p < 2; p++) {
            broker.track(RabbitMqConfig.partitionQueueName(topic, "g", p));
            broker.track("courier.delay.release." + topic + ".p" + p);
        }
        broker.track(RabbitMqConfig.groupQueueName(topic, "g") + ".members");
        try (RabbitMqTransport keyOrdered = RabbitMqTransport.connect(RabbitBroker.config().keyOrdering(2).build())) {
            Subscription s = keyOrdered.subscriber().subscribe(
                    SubscriptionOptions.builder(topic, "g").ordering(MessageOrdering.KEY).build(), d -> { });
            assertThat(s).isInstanceOf(PartitionedSubscription.class);
            assertThat(s.options().ordering()).isEqualTo(MessageOrdering.KEY);
        }
    }

    /** An option meant for another transport: refused, naming it, rather than silently ignored. */
    private record KafkaLikeOption(String ordering) implements TransportOption {
    }

    @Test
    void aTransportOptionIsRefusedNamingItAndTheTransport() {
        String topic = broker.topic("foreign", "g");
        assertThatThrownBy(() -> transport.subscriber().subscribe(
                SubscriptionOptions.builder(topic, "g").with(new KafkaLikeOption("KEY")).build(), d -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the rabbitmq transport does not understand the transport option "
                        + KafkaLikeOption.class.getName() + " (KafkaLikeOption[ordering=KEY])")
                .hasMessageContaining("it understands no transport options");
        assertThat(broker.queueExists(RabbitMqConfig.groupQueueName(topic, "g"))).isFalse();
    }

    @Test
    void handlerFailureIsRedeliveredLaterWithAGrowingAttemptAndNeverHotLooped() throws Exception {
        String topic = broker.topic("failing", "g");
        List<Integer> attempts = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Long> times = new java.util.concurrent.CopyOnWriteArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        transport.subscriber().subscribe(SubscriptionOptions.builder(topic, "g")
                .failureRedeliveryDelay(Duration.ofMillis(300)).build(), d -> {
            attempts.add(d.attempt());
            times.add(System.nanoTime());
            if (d.attempt() < 3) {
                throw new IllegalStateException("boom " + d.attempt());
            }
            done.countDown();
        });
        transport.publisher().publish(topic, Message.builder().id("fail-me").payload(new byte[] {1}).build()).get(10, TimeUnit.SECONDS);
        assertThat(done.await(15, TimeUnit.SECONDS)).isTrue();
        assertThat(attempts).containsExactly(1, 2, 3);
        // each redelivery waited for the failure redelivery delay (no immediate requeue)
        assertThat(times.get(1) - times.get(0)).isGreaterThanOrEqualTo(Duration.ofMillis(300).toNanos());
        assertThat(times.get(2) - times.get(1)).isGreaterThanOrEqualTo(Duration.ofMillis(300).toNanos());
        String queue = RabbitMqConfig.groupQueueName(topic, "g");
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            long[] state = broker.queueState(queue);
            return state[0] == 0 && state[1] == 0;
        });
    }

    @Test
    void anUndecodableDeliveryIsDeadLetteredWithTheReasonInHeadersNeitherHandledNorRedelivered() throws Exception {
        String topic = broker.topic("undecodable", "g");
        String deadLetterTopic = topic + ".dlq";
        broker.trackExchange(deadLetterTopic);
        broker.track(RabbitMqConfig.groupQueueName(deadLetterTopic, "inspect"));
        BlockingQueue<io.courier.Delivery> deadLetters = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(deadLetterTopic, "inspect", deadLetters::add);
        List<String> handled = new java.util.concurrent.CopyOnWriteArrayList<>();
        transport.subscriber().subscribe(topic, "g", d -> handled.add(d.message().id()));

        // a message whose attempt header is malformed (so many attempts that the next one cannot be counted)
        broker.withChannel(ch -> {
            ch.basicPublish(topic, "", new com.rabbitmq.client.AMQP.BasicProperties.Builder()
                    .messageId("bad-1").deliveryMode(2)
                    .headers(Map.of(io.courier.rabbitmq.internal.MessageMapping.ATTEMPT, "2147483647", "x-app", "legacy"))
                    .build(), "payload".getBytes());
            return null;
        });
        transport.publisher().publish(topic, Message.builder().id("good-1").payload(new byte[] {1}).build())
                .get(10, TimeUnit.SECONDS);

        io.courier.Delivery dead = deadLetters.poll(10, TimeUnit.SECONDS);
        assertThat(dead).as("dead-lettered to " + deadLetterTopic).isNotNull();
        assertThat(dead.message().id()).isEqualTo("bad-1");
        assertThat(dead.message().payloadAsText()).isEqualTo("payload");
        assertThat(dead.message().headers())
                .containsEntry(Headers.DEAD_LETTER_REASON, "undecodable")
                .containsEntry(Headers.DEAD_LETTER_GROUP, "g")
                .containsEntry(Headers.ORIGINAL_TOPIC, topic)
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalArgumentException.class.getName())
                .containsEntry("x-app", "legacy");
        assertThat(dead.message().header(Headers.EXCEPTION_MESSAGE)).hasValueSatisfying(m -> assertThat(m).contains("attempt"));
        await().atMost(Duration.ofSeconds(10)).until(() -> handled.contains("good-1"));
        String queue = RabbitMqConfig.groupQueueName(topic, "g");
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            long[] state = broker.queueState(queue);
            return state[0] == 0 && state[1] == 0;   // acknowledged: not left unacked, not requeued
        });
        assertThat(handled).containsExactly("good-1");
        assertThat(deadLetters.poll(500, TimeUnit.MILLISECONDS)).as("dead-lettered once").isNull();
    }

    @Test
    void retryAfterGoesOnlyToTheRetryingGroup() throws Exception {
        String topic = broker.topic("retry-one-group", "retrier", "bystander");
        List<Integer> retrierAttempts = new java.util.concurrent.CopyOnWriteArrayList<>();
        AtomicInteger bystander = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(1);
        transport.subscriber().subscribe(topic, "retrier", d -> {
            retrierAttempts.add(d.attempt());
            if (d.attempt() == 1) {
                d.retryAfter(Duration.ofMillis(200), Map.of("why", "not yet"));
            } else {
                assertThat(d.message().header("why")).hasValue("not yet");
                done.countDown();
            }
        });
        transport.subscriber().subscribe(topic, "bystander", d -> bystander.incrementAndGet());
        transport.publisher().publish(topic, Message.ofText("x")).get(10, TimeUnit.SECONDS);
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(retrierAttempts).containsExactly(1, 2);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> bystander.get() == 1);
    }

    @Test
    void verifiedTlsAgainstAPlainListenerFailsToConnectWithAClearError() {
        assertThatThrownBy(() -> RabbitMqTransport.connect(RabbitBroker.config().tls().connectionTimeout(Duration.ofSeconds(5)).build()))
                .isInstanceOf(io.courier.CourierException.class)
                .hasMessageContaining("cannot connect to RabbitMQ at amqps://guest@127.0.0.1:5672/")
                .hasMessageContaining("SSL");
    }

    @Test
    void wrongCredentialsFailToConnectWithAClearError() {
        assertThatThrownBy(() -> RabbitMqTransport.connect(RabbitBroker.config().credentials("guest", "wrong").build()))
                .isInstanceOf(io.courier.CourierException.class)
                .hasMessageContaining("cannot connect to RabbitMQ at amqp://guest@127.0.0.1:5672/")
                .hasMessageContaining("ACCESS_REFUSED");
    }
}
