package io.courier.kafka;

/**
 * SASL mechanisms Courier configures from a user name and password (see
 * {@link KafkaConfig.Builder#sasl(SaslMechanism, String, String)}). Other mechanisms (GSSAPI,
 * OAUTHBEARER) can be set up with {@link KafkaConfig.Builder#property(String, String)}.
 */
public enum SaslMechanism {
    /** {@code PLAIN}: the password travels as is; use it only together with TLS. */
    PLAIN("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
    /** {@code SCRAM-SHA-256}: salted challenge-response; the password never travels. */
    SCRAM_SHA_256("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    /** {@code SCRAM-SHA-512}: as SCRAM-SHA-256 with SHA-512. */
    SCRAM_SHA_512("SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule");

    private final String kafkaName;
    private final String loginModule;

    SaslMechanism(String kafkaName, String loginModule) {
        this.kafkaName = kafkaName;
        this.loginModule = loginModule;
    }

    /** The value of Kafka's {@code sasl.mechanism} setting. */
    public String kafkaName() {
        return kafkaName;
    }

    /** The JAAS login module class that implements this mechanism on the client. */
    public String loginModule() {
        return loginModule;
    }
}
