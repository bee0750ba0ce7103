package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.Subscription;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Topology declared from configuration: exchange types, shared exchanges, quorum queues, mismatches. */
class TopologyTest {

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
    void existingClassicQueueAndQuorumConfigGiveAnErrorNamingTheArgument() {
        String topic = broker.topic("mismatch", "g");
        String queue = RabbitMqConfig.groupQueueName(topic, "g");
        broker.withChannel(ch -> ch.queueDeclare(queue, true, false, false, null));

        transport = RabbitMqTransport.connect(RabbitBroker.config().queueType(QueueType.QUORUM).build());
        assertThatThrownBy(() -> transport.subscriber().subscribe(topic, "g", d -> { }))
                .isInstanceOfSatisfying(TopologyMismatchException.class, e -> {
                    assertThat(e.argument()).isEqualTo("x-queue-type");
                    assertThat(e.entityKind()).isEqualTo("queue");
                    assertThat(e.entityName()).isEqualTo(queue);
                })
                .hasMessageContaining("queue '" + queue + "' already exists on the broker with a different 'x-queue-type'");

        // the transport keeps working after the failed declaration
        String other = broker.topic("after-mismatch", "g");
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(other, "g", d -> got.add(d.message().payloadAsText()));
        transport.publisher().publish(other, Message.ofText("still fine")).join();
        await().atMost(Duration.ofSeconds(10)).until(() -> "still fine".equals(got.peek()));
    }

    @Test
    void existingExchangeOfAnotherTypeFailsThePublishNamingTheArgument() {
        String topic = broker.topic("exchange-mismatch");
        broker.withChannel(ch -> ch.exchangeDeclare(topic, "direct", true));
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
        assertThatThrownBy(() -> transport.publisher().publish(topic, Message.ofText("x")).get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(PublishException.class)
                .hasMessageContaining("exchange '" + topic + "' already exists on the broker with a different 'type'")
                .hasCauseInstanceOf(TopologyMismatchException.class);
    }

    @Test
    void extraQueueArgumentsAreDeclaredAndAMismatchIsNamed() {
        String topic = broker.topic("queue-args", "g");
        transport = RabbitMqTransport.connect(RabbitBroker.config().queueArgument("x-max-length", 1000).build());
        transport.declareGroup(topic, "g");
        transport.close();

        transport = RabbitMqTransport.connect(RabbitBroker.config().queueArgument("x-max-length", 5).build());
        assertThatThrownBy(() -> transport.declareGroup(topic, "g"))
                .isInstanceOfSatisfying(TopologyMismatchException.class, e -> assertThat(e.argument()).isEqualTo("x-max-length"));
    }

    @Test
    void quorumQueuesWorkAndCountRedeliveriesExactly() throws Exception {
        String topic = broker.topic("quorum", "g");
        transport = RabbitMqTransport.connect(RabbitBroker.config().queueType(QueueType.QUORUM).build());
        List<Integer> attempts = new java.util.concurrent.CopyOnWriteArrayList<>();
        CountDownLatch stuck = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Subscription first = transport.subscriber().subscribe(topic, "g", d -> {
            attempts.add(d.attempt());
            stuck.countDown();
            release.await(30, TimeUnit.SECONDS);
            throw new IllegalStateException("abandoned");
        });
        transport.publisher().publish(topic, Message.ofText("q")).get(10, TimeUnit.SECONDS);
        assertThat(stuck.await(10, TimeUnit.SECONDS)).isTrue();
        first.close(Duration.ofMillis(200));   // abandons the handler: the message goes back unacked
        release.countDown();

        BlockingQueue<Integer> second = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(topic, "g", d -> second.add(d.attempt()));
        assertThat(second.poll(10, TimeUnit.SECONDS)).as("attempt after one abandoned delivery (x-delivery-count)").isEqualTo(2);
        assertThat(attempts).containsExactly(1);
        assertThat(RabbitBroker.rabbitmqctl(Duration.ofSeconds(30), "list_queues", "-q", "name", "type"))
                .containsPattern(java.util.regex.Pattern.quote(RabbitMqConfig.groupQueueName(topic, "g")) + "\\s+quorum");
    }

    @Test
    void topicsCanShareAConfiguredDirectExchangeWithRoutingKeys() throws Exception {
        String exchange = "shared-direct-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        broker.trackExchange(exchange);
        String orders = broker.topic("orders", "g");
        String payments = broker.topic("payments", "g");
        transport = RabbitMqTransport.connect(RabbitBroker.config()
                .topic(orders, TopicTopology.builder(exchange, ExchangeType.DIRECT).routingKey("orders").build())
                .topic(payments, TopicTopology.builder(exchange, ExchangeType.DIRECT).routingKey("payments").build())
                .build());
        BlockingQueue<String> ordersGot = new LinkedBlockingQueue<>();
        BlockingQueue<String> paymentsGot = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe(orders, "g", d -> ordersGot.add(d.message().payloadAsText()));
        transport.subscriber().subscribe(payments, "g", d -> paymentsGot.add(d.message().payloadAsText()));

        transport.publisher().publish(orders, Message.ofText("o1")).get(10, TimeUnit.SECONDS);
        transport.publisher().publish(payments, Message.ofText("p1")).get(10, TimeUnit.SECONDS);
        transport.publisher().publishAfter(orders, Message.ofText("o2-delayed"), Duration.ofMillis(200)).get(10, TimeUnit.SECONDS);

        assertThat(ordersGot.poll(10, TimeUnit.SECONDS)).isEqualTo("o1");
        assertThat(ordersGot.poll(10, TimeUnit.SECONDS)).isEqualTo("o2-delayed");
        assertThat(paymentsGot.poll(10, TimeUnit.SECONDS)).isEqualTo("p1");
        assertThat(ordersGot.poll(300, TimeUnit.MILLISECONDS)).as("orders receives nothing of payments").isNull();
    }

    @Test
    void fanoutAndHeadersExchangesRoute() throws Exception {
        String fanout = broker.topic("fanout", "a", "b");
        String headers = broker.topic("headers", "eu", "us");
        transport = RabbitMqTransport.connect(RabbitBroker.config()
                .topic(fanout, TopicTopology.builder(fanout, ExchangeType.FANOUT).build())
                .topic(headers, TopicTopology.builder(headers, ExchangeType.HEADERS)
                        .bindingArgument("x-match", "all").bindingArgument("region", "eu").build())
                .build());
        Set<String> got = ConcurrentHashMap.newKeySet();
        transport.subscriber().subscribe(fanout, "a", d -> got.add("a:" + d.message().payloadAsText()));
        transport.subscriber().subscribe(fanout, "b", d -> got.add("b:" + d.message().payloadAsText()));
        transport.subscriber().subscribe(headers, "eu", d -> got.add("eu:" + d.message().payloadAsText()));

        transport.publisher().publish(fanout, Message.ofText("f")).get(10, TimeUnit.SECONDS);
        transport.publisher().publish(headers, Message.builder().header("region", "eu").payload("h".getBytes()).build())
                .get(10, TimeUnit.SECONDS);
        // a message that matches no binding of the headers exchange is unroutable
        assertThatThrownBy(() -> transport.publisher().publish(headers,
                Message.builder().header("region", "us").payload("x".getBytes()).build()).get(10, TimeUnit.SECONDS))
                .hasMessageContaining("unroutable");
        await().atMost(Duration.ofSeconds(10)).until(() -> got.equals(Set.of("a:f", "b:f", "eu:h")));
    }

    @Test
    void queueAndBindingsAreVisibleOnTheBroker() {
        String topic = broker.topic("visible", "g");
        transport = RabbitMqTransport.connect(RabbitBroker.config().build());
        transport.declareGroup(topic, "g");
        String bindings = RabbitBroker.rabbitmqctl(Duration.ofSeconds(30), "list_bindings", "-q", "source_name", "destination_name", "routing_key");
        String queue = RabbitMqConfig.groupQueueName(topic, "g");
        assertThat(bindings).containsPattern(java.util.regex.Pattern.quote(topic) + "\\s+" + java.util.regex.Pattern.quote(queue) + "\\s+#");
        assertThat(bindings).containsPattern("courier\\.delay\\.deliver\\s+" + java.util.regex.Pattern.quote(queue) + "\\s+(\\*\\.){26}q-");
    }
}
