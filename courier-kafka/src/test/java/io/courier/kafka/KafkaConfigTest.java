package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class KafkaConfigTest {

    @Test
    void defaultsPointAtTheLocalBrokerWithoutSecurity() {
        KafkaConfig c = KafkaConfig.defaults();
        assertThat(c.bootstrapServers()).isEqualTo("127.0.0.1:9092");
        assertThat(c.securityProtocol()).isEqualTo("PLAINTEXT");
        assertThat(c.partitions()).isEqualTo(KafkaConfig.DEFAULT_PARTITIONS);
        assertThat(c.compression()).isEqualTo(Compression.NONE);
        assertThat(c.assignmentStrategy()).isEqualTo(AssignmentStrategy.COOPERATIVE_STICKY);
        assertThat(c.subscriptionDefaults()).isEqualTo(KafkaSubscriptionOptions.defaults());
        assertThat(c.subscriptionDefaults().retryMode()).isEqualTo(RetryMode.RETRY_TOPIC);
        assertThat(c.subscriptionDefaults().ordering()).isEqualTo(Ordering.PARTITION);
        assertThat(c.transactionalId()).isEmpty();
        assertThat(c.replicationFactor()).isEmpty();
        assertThat(c.connectionProperties()).containsEntry("bootstrap.servers", "127.0.0.1:9092")
                .containsEntry("security.protocol", "PLAINTEXT")
                .doesNotContainKey("sasl.jaas.config");
    }

    @Test
    void saslAndTlsDecideTheSecurityProtocolAndJaasConfig() {
        KafkaConfig sasl = KafkaConfig.builder().sasl(SaslMechanism.SCRAM_SHA_512, "billing", "s3\"cret").build();
        assertThat(sasl.securityProtocol()).isEqualTo("SASL_PLAINTEXT");
        assertThat(sasl.connectionProperties())
                .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
                .containsEntry("sasl.jaas.config",
                        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"billing\" password=\"s3\\\"cret\";");

        KafkaConfig saslTls = sasl.toBuilder().truststore(Path.of("/etc/kafka/trust.p12"), "changeit").build();
        assertThat(saslTls.securityProtocol()).isEqualTo("SASL_SSL");
        assertThat(saslTls.connectionProperties())
                .containsEntry("ssl.truststore.location", "/etc/kafka/trust.p12")
                .containsEntry("ssl.truststore.type", "PKCS12")
                .containsEntry("ssl.truststore.password", "changeit");

        KafkaConfig mtls = KafkaConfig.builder().tls(true).keystore(Path.of("client.jks"), "storepw", "keypw")
                .hostnameVerification(false).build();
        assertThat(mtls.securityProtocol()).isEqualTo("SSL");
        assertThat(mtls.connectionProperties())
                .containsEntry("ssl.keystore.type", "JKS")
                .containsEntry("ssl.key.password", "keypw")
                .containsEntry("ssl.endpoint.identification.algorithm", "");

        KafkaConfig plain = KafkaConfig.builder().sasl(SaslMechanism.PLAIN, "u", "p").tls(true).build();
        assertThat(plain.connectionProperties().get("sasl.jaas.config").toString())
                .startsWith("org.apache.kafka.common.security.plain.PlainLoginModule required");
    }

    @Test
    void passthroughPropertiesWinAndSecretsAreNeverPrinted() {
        KafkaConfig c = KafkaConfig.builder()
                .sasl(SaslMechanism.PLAIN, "user", "hunter2")
                .property("security.protocol", "SASL_SSL")
                .property("ssl.truststore.password", "alsosecret")
                .property("client.rack", "eu-1a")
                .build();
        assertThat(c.connectionProperties()).containsEntry("security.protocol", "SASL_SSL").containsEntry("client.rack", "eu-1a");
        assertThat(c.toString()).doesNotContain("hunter2").doesNotContain("alsosecret").contains("client.rack=eu-1a");
    }

    @Test
    void toBuilderCopiesEverything() {
        KafkaConfig c = KafkaConfig.builder().bootstrapServers("a:1,b:2").clientId("x").compression(Compression.ZSTD)
                .linger(Duration.ofMillis(20)).batchSizeBytes(65536).transactionalId("tx-1").maxPayloadBytes(5000)
                .partitions(12).partitions("orders", 3).replicationFactor(3).verifyPartitions(false)
                .assignmentStrategy(AssignmentStrategy.RANGE).maxPollRecords(100).sessionTimeout(Duration.ofSeconds(10))
                .commitInterval(Duration.ofSeconds(2)).requestTimeout(Duration.ofSeconds(5)).operationTimeout(Duration.ofSeconds(5))
                .subscriptionDefaults(KafkaSubscriptionOptions.builder().ordering(Ordering.KEY).build())
                .delayTopicPrefix("my.delay.").delayForwarderGroup("fwd").runDelayForwarder(false)
                .spreadUnkeyedMessages(false).property("a", "b").build();
        assertThat(c.toBuilder().build().toString()).isEqualTo(c.toString());
        assertThat(c.partitionsFor("orders")).isEqualTo(3);
        assertThat(c.partitionsFor("other")).isEqualTo(12);
        assertThat(c.replicationFactor()).contains((short) 3);
    }

    @Test
    void validationSaysWhatWasExpectedAndWhatWasGiven() {
        assertThatThrownBy(() -> KafkaConfig.builder().partitions(0))
                .hasMessage("partitions must be >= 1, but was 0");
        assertThatThrownBy(() -> KafkaConfig.builder().maxPayloadBytes(-5))
                .hasMessage("maxPayloadBytes must be between 1 and 536870912, but was -5");
        assertThatThrownBy(() -> KafkaConfig.builder().bootstrapServers("localhost"))
                .hasMessage("bootstrapServers must be a comma-separated list of host:port, but was 'localhost'");
        assertThatThrownBy(() -> KafkaConfig.builder().linger(Duration.ofMillis(-1)))
                .hasMessage("linger must be >= 0, but was PT-0.001S");
        assertThatThrownBy(() -> KafkaConfig.builder().deliveryTimeout(Duration.ofSeconds(10)).build())
                .hasMessage("deliveryTimeout must be >= linger + requestTimeout (30005 ms), but was 10000 ms");
        assertThatThrownBy(() -> KafkaConfig.builder().replicationFactor(0))
                .hasMessage("replicationFactor must be between 1 and 32767, but was 0");
        assertThatThrownBy(() -> KafkaConfig.builder().delayTopicPrefix("bad prefix"))
                .hasMessageContaining("but was 'bad prefix'");
        assertThatThrownBy(() -> KafkaConfig.builder().transactionalId(" "))
                .hasMessage("transactionalId must not be blank");
        assertThatThrownBy(() -> KafkaConfig.builder().sasl(SaslMechanism.PLAIN, " ", "p"))
                .hasMessage("sasl username must not be blank");
        assertThatThrownBy(() -> KafkaConfig.builder().commitInterval(Duration.ZERO))
                .hasMessage("commitInterval must be > 0, but was PT0S");
    }

    /**
     * Relations Kafka's clients enforce, and values they cannot take, fail at build time with the
     * usual message instead of a raw {@code ConfigException} when a client is created.
     */
    @Test
    void combinationsKafkaWouldRefuseLaterAreRefusedAtBuildTime() {
        // The Admin client threw ConfigException: default.api.timeout.ms below request.timeout.ms.
        assertThatThrownBy(() -> KafkaConfig.builder().operationTimeout(Duration.ofSeconds(5)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("operationTimeout must be >= requestTimeout (PT30S), but was PT5S");
        assertThat(KafkaConfig.builder().requestTimeout(Duration.ofSeconds(5)).operationTimeout(Duration.ofSeconds(5)).build()
                .operationTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThatThrownBy(() -> KafkaConfig.builder().maxPayloadBytes(Integer.MAX_VALUE))
                .hasMessage("maxPayloadBytes must be between 1 and 536870912, but was 2147483647");
        assertThatThrownBy(() -> KafkaConfig.builder().requestTimeout(Duration.ofDays(30)))
                .hasMessage("requestTimeout must be at most PT596H31M23.647S, but was PT720H");
        assertThatThrownBy(() -> KafkaConfig.builder().linger(Duration.ofDays(30)))
                .hasMessage("linger must be at most PT596H31M23.647S, but was PT720H");
        assertThatThrownBy(() -> KafkaConfig.builder().sessionTimeout(Duration.ofMillis(100)))
                .hasMessage("sessionTimeout must be >= PT1S, but was PT0.1S");
        assertThatThrownBy(() -> KafkaConfig.builder().property(" ", "x"))
                .hasMessage("property key must not be blank, but was ' '");
    }

    @Test
    void subscriptionOptionsHaveDefaultsAndABuilder() {
        KafkaSubscriptionOptions o = KafkaSubscriptionOptions.builder().retryMode(RetryMode.IN_PLACE).ordering(Ordering.KEY).build();
        assertThat(o.toBuilder().build()).isEqualTo(o);
        assertThatThrownBy(() -> new KafkaSubscriptionOptions(null, Ordering.KEY)).isInstanceOf(NullPointerException.class);
        assertThat(Map.of("c", Compression.LZ4.kafkaName())).containsEntry("c", "lz4");
    }
}
