package io.courier.rabbitmq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Configuration parsing, defaults and validation; no broker needed. */
class RabbitMqConfigTest {

    @Test
    void defaultsPointAtALocalBrokerWithDurableClassicQueues() {
        RabbitMqConfig c = RabbitMqConfig.defaults();
        assertThat(c.host()).isEqualTo("localhost");
        assertThat(c.port()).isEqualTo(5672);
        assertThat(c.virtualHost()).isEqualTo("/");
        assertThat(c.username()).isEqualTo("guest");
        assertThat(c.tlsMode()).isEqualTo(RabbitMqConfig.TlsMode.NONE);
        assertThat(c.durable()).isTrue();
        assertThat(c.queueType()).isEqualTo(QueueType.CLASSIC);
        assertThat(c.publishConfirmTimeout()).isEqualTo(RabbitMqConfig.DEFAULT_PUBLISH_CONFIRM_TIMEOUT);
        assertThat(c.topologyFor("orders")).isEqualTo(new TopicTopology("orders", ExchangeType.TOPIC, "orders", List.of("#"), java.util.Map.of()));
    }

    @Test
    void uriSetsEveryPartAndAmqpsTurnsOnVerifiedTls() {
        RabbitMqConfig c = RabbitMqConfig.builder().uri("amqps://app%40x:s%2Fcret@rabbit.example:5999/prod%2Feu").build();
        assertThat(c.host()).isEqualTo("rabbit.example");
        assertThat(c.port()).isEqualTo(5999);
        assertThat(c.username()).isEqualTo("app@x");
        assertThat(c.password()).isEqualTo("s/cret");
        assertThat(c.virtualHost()).isEqualTo("prod/eu");
        assertThat(c.tlsMode()).isEqualTo(RabbitMqConfig.TlsMode.VERIFIED);

        RabbitMqConfig tlsDefaultPort = RabbitMqConfig.builder().uri("amqps://h").build();
        assertThat(tlsDefaultPort.port()).isEqualTo(5671);
        assertThat(tlsDefaultPort.virtualHost()).isEqualTo("/");
    }

    @Test
    void insecureTlsMustBeAskedForByName() {
        RabbitMqConfig c = RabbitMqConfig.builder().uri("amqps://h").insecureTrustAllForDevelopmentOnly().build();
        assertThat(c.tlsMode()).isEqualTo(RabbitMqConfig.TlsMode.INSECURE_TRUST_ALL_FOR_DEVELOPMENT_ONLY);
        // amqps after the insecure option does not silently upgrade or downgrade it
        assertThat(RabbitMqConfig.builder().insecureTrustAllForDevelopmentOnly().uri("amqps://h").build().tlsMode())
                .isEqualTo(RabbitMqConfig.TlsMode.INSECURE_TRUST_ALL_FOR_DEVELOPMENT_ONLY);
    }

    @Test
    void toStringNeverShowsThePassword() {
        RabbitMqConfig c = RabbitMqConfig.builder().uri("amqp://user:topsecret@h/").build();
        assertThat(c.toString()).contains("user@h").doesNotContain("topsecret");
    }

    @Test
    void toBuilderCopiesEverything() {
        RabbitMqConfig c = RabbitMqConfig.builder().host("h").port(1234).queueType(QueueType.QUORUM)
                .queueArgument("x-max-length", 10).declareGroups("t", "a", "b")
                .topic("t", TopicTopology.builder("ex", ExchangeType.FANOUT).build())
                .publishConfirmTimeout(Duration.ofSeconds(3)).build();
        RabbitMqConfig copy = c.toBuilder().build();
        assertThat(copy.host()).isEqualTo("h");
        assertThat(copy.port()).isEqualTo(1234);
        assertThat(copy.queueType()).isEqualTo(QueueType.QUORUM);
        assertThat(copy.queueArguments()).containsEntry("x-max-length", 10);
        assertThat(copy.declaredGroups()).containsKey("t");
        assertThat(copy.declaredGroups().get("t")).containsExactly("a", "b");
        assertThat(copy.topologyFor("t").exchangeType()).isEqualTo(ExchangeType.FANOUT);
        assertThat(copy.publishConfirmTimeout()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void validationSaysWhatWasExpectedAndWhatWasGiven() {
        assertThatThrownBy(() -> RabbitMqConfig.builder().publisherChannels(0).build())
                .hasMessage("publisherChannels must be between 1 and 2047 (RabbitMQ's default channel_max), but was 0");
        assertThatThrownBy(() -> RabbitMqConfig.builder().publisherChannels(100_000).build())
                .hasMessage("publisherChannels must be between 1 and 2047 (RabbitMQ's default channel_max), but was 100000");
        assertThatThrownBy(() -> RabbitMqConfig.builder().port(70000).build())
                .hasMessage("port must be between 1 and 65535, but was 70000");
        assertThatThrownBy(() -> RabbitMqConfig.builder().publishConfirmTimeout(Duration.ZERO).build())
                .hasMessage("publishConfirmTimeout must be > 0, but was PT0S");
        assertThatThrownBy(() -> RabbitMqConfig.builder().maxPayloadBytes(0).build())
                .hasMessage("maxPayloadBytes must be between 1 and 536870912 (RabbitMQ's largest max_message_size), but was 0");
        assertThatThrownBy(() -> RabbitMqConfig.builder().maxPayloadBytes(Integer.MAX_VALUE).build())
                .hasMessage("maxPayloadBytes must be between 1 and 536870912 (RabbitMQ's largest max_message_size), but was 2147483647");
        assertThatThrownBy(() -> RabbitMqConfig.builder().heartbeat(Duration.ofMillis(500)).build())
                .hasMessage("heartbeat must be a whole number of seconds, but was PT0.5S");
        assertThatThrownBy(() -> RabbitMqConfig.builder().virtualHost("").build())
                .hasMessage("virtualHost must not be empty (the default virtual host is \"/\")");
        assertThatThrownBy(() -> RabbitMqConfig.builder().credentials("", "p").build())
                .hasMessage("username must not be empty");
        assertThatThrownBy(() -> RabbitMqConfig.builder().connectionName(" ").build())
                .hasMessage("connectionName must not be blank");
        assertThatThrownBy(() -> RabbitMqConfig.builder().connectionTimeout(Duration.ofDays(30)).build())
                .hasMessage("connectionTimeout must be at most PT596H31M23.647S, but was PT720H");
        assertThatThrownBy(() -> RabbitMqConfig.builder().queueType(QueueType.QUORUM).durable(false).build())
                .hasMessageContaining("durable must be true with queueType QUORUM");
        assertThatThrownBy(() -> RabbitMqConfig.builder().uri("http://h"))
                .hasMessageContaining("uri scheme must be amqp or amqps, but was 'http'");
        assertThatThrownBy(() -> RabbitMqConfig.builder().uri("amqp://u:secret@h:x/"))
                .isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("secret"));
        assertThatThrownBy(() -> RabbitMqConfig.builder().queueArgument("x-queue-type", "quorum"))
                .hasMessageContaining("queueType(...)");
        assertThatThrownBy(() -> TopicTopology.builder("amq.topic", ExchangeType.TOPIC).build())
                .hasMessageContaining("must not start with 'amq.'");
    }

    @Test
    void topologyBuilderPicksSensibleBindingKeysPerExchangeType() {
        assertThat(TopicTopology.builder("x", ExchangeType.TOPIC).routingKey("a.b").build().bindingKeys()).containsExactly("#");
        assertThat(TopicTopology.builder("x", ExchangeType.DIRECT).routingKey("a.b").build().bindingKeys()).containsExactly("a.b");
        assertThat(TopicTopology.builder("x", ExchangeType.FANOUT).build().bindingKeys()).containsExactly("");
        assertThat(TopicTopology.builder("x", ExchangeType.TOPIC).bindingKeys("a.*", "b.#").build().bindingKeys())
                .containsExactly("a.*", "b.#");
    }

    @Test
    void keyOrderingIsOffByDefaultAndKeptByToBuilder() {
        assertThat(RabbitMqConfig.defaults().keyOrdered()).isFalse();
        assertThat(RabbitMqConfig.defaults().keyOrderingPartitions()).isEqualTo(RabbitMqConfig.NO_KEY_ORDERING);
        RabbitMqConfig c = RabbitMqConfig.builder().keyOrdering(8).build();
        assertThat(c.keyOrdered()).isTrue();
        assertThat(c.keyOrderingPartitions()).isEqualTo(8);
        assertThat(c.toBuilder().build().keyOrderingPartitions()).isEqualTo(8);
        assertThat(c.toBuilder().noKeyOrdering().build().keyOrdered()).isFalse();
        assertThat(c.toString()).contains("keyOrderingPartitions=8");
        assertThat(RabbitMqConfig.partitionQueueName("orders", "billing", 3)).isEqualTo("orders.billing.p3");
    }

    @Test
    void keyOrderingPartitionCountIsValidated() {
        assertThatThrownBy(() -> RabbitMqConfig.builder().keyOrdering(0))
                .hasMessage("keyOrdering partitions must be between 1 and 64, but was 0");
        assertThatThrownBy(() -> RabbitMqConfig.builder().keyOrdering(RabbitMqConfig.MAX_KEY_ORDERING_PARTITIONS + 1))
                .hasMessage("keyOrdering partitions must be between 1 and 64, but was 65");
        assertThat(RabbitMqConfig.builder().keyOrdering(1).build().keyOrderingPartitions()).isEqualTo(1);
        assertThat(RabbitMqConfig.builder().keyOrdering(64).build().keyOrderingPartitions()).isEqualTo(64);
    }

    @Test
    void keyOrderingRejectsTopologiesThatRouteByAnythingButItsPartitionKeys() {
        RabbitMqConfig ordered = RabbitMqConfig.builder().keyOrdering(4).build();
        assertThatThrownBy(() -> ordered.toBuilder().topic("audit", TopicTopology.builder("audit", ExchangeType.FANOUT).build()).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("topic 'audit'").hasMessageContaining("exchange type is FANOUT");
        assertThatThrownBy(() -> ordered.toBuilder().topic("eu", TopicTopology.builder("by-region", ExchangeType.HEADERS)
                .bindingArgument("x-match", "all").build()).build())
                .hasMessageContaining("exchange type is HEADERS");
        assertThatThrownBy(() -> ordered.toBuilder().topic("orders", TopicTopology.builder("events", ExchangeType.DIRECT)
                .routingKey("orders-created").build()).build())
                .hasMessageContaining("routing key 'orders-created'");
        assertThatThrownBy(() -> ordered.toBuilder()
                .topic("orders", TopicTopology.builder("events", ExchangeType.DIRECT).build())
                .topic("payments", TopicTopology.builder("events", ExchangeType.DIRECT).build()).build())
                .hasMessageContaining("topics 'orders' and 'payments' share exchange 'events'");
        assertThatThrownBy(() -> ordered.toBuilder().topic("orders", TopicTopology.builder("events", ExchangeType.TOPIC)
                .bindingKeys("orders.#").build()).build())
                .hasMessageContaining("binding keys [orders.#]");
        assertThatThrownBy(() -> ordered.toBuilder().queueArgument("x-single-active-consumer", false).build())
                .hasMessageContaining("x-single-active-consumer");
        // the order of the builder calls does not matter: build() checks
        assertThatThrownBy(() -> RabbitMqConfig.builder().topic("audit", TopicTopology.builder("audit", ExchangeType.FANOUT).build())
                .keyOrdering(4).build())
                .hasMessageContaining("exchange type is FANOUT");

        // the exchange name and a TOPIC or DIRECT type may be chosen
        RabbitMqConfig ok = ordered.toBuilder()
                .topic("orders", TopicTopology.builder("shop-orders", ExchangeType.DIRECT).build())
                .topic("payments", TopicTopology.builder("shop-payments", ExchangeType.TOPIC).build())
                .topic("refunds", TopicTopology.defaultFor("refunds"))
                .build();
        assertThat(ok.topologyFor("orders").exchange()).isEqualTo("shop-orders");
        // without key ordering the same settings stay allowed
        assertThat(RabbitMqConfig.builder().queueArgument("x-single-active-consumer", true)
                .topic("audit", TopicTopology.builder("audit", ExchangeType.FANOUT).build()).build().keyOrdered()).isFalse();
    }

    @Test
    void keyPartitionIsCrc32OfTheUtf8KeyModuloThePartitions() {
        // CRC-32 of "123456789" is the standard check value 0xCBF43926 = 3421780262
        assertThat(RabbitMqConfig.keyPartition("123456789", 8)).isEqualTo(6);
        assertThat(RabbitMqConfig.keyPartition("123456789", 64)).isEqualTo(38);
        assertThat(RabbitMqConfig.keyPartition("123456789", 1)).isZero();
        assertThat(RabbitMqConfig.keyPartition("order-42", 16)).isEqualTo(RabbitMqConfig.keyPartition("order-42", 16));
        assertThatThrownBy(() -> RabbitMqConfig.keyPartition("k", 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
