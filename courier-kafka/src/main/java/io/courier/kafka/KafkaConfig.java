package io.courier.kafka;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Configuration of a {@link KafkaTransport}: where the brokers are, how to authenticate, and how the
 * producer, the consumers and topic creation behave. Immutable; build it with {@link #builder()},
 * start from {@link #defaults()}, derive a changed copy with {@link #toBuilder()}.
 *
 * <pre>{@code
 * KafkaConfig config = KafkaConfig.builder()
 *     .bootstrapServers("kafka-1:9093,kafka-2:9093")
 *     .clientId("billing")
 *     .sasl(SaslMechanism.SCRAM_SHA_512, "billing", secret)
 *     .truststore(Path.of("/etc/kafka/truststore.p12"), trustPassword)   // TLS
 *     .compression(Compression.LZ4)
 *     .partitions(12)
 *     .replicationFactor(3)
 *     .build();
 * }</pre>
 *
 * <p><b>What is fixed.</b> The producer is always idempotent with {@code acks=all}: a publish future
 * completes only when every in-sync replica has the record, and retries never duplicate or reorder
 * records of one partition. Consumers never auto-commit and read with
 * {@code isolation.level=read_committed}, so records of an aborted transaction are never handled.
 *
 * <p><b>Security.</b> The security protocol follows from what is set: {@link Builder#sasl SASL} and
 * TLS ({@link Builder#tls(boolean)}, a {@link Builder#truststore truststore} or a
 * {@link Builder#keystore keystore}) give {@code SASL_SSL}, SASL alone {@code SASL_PLAINTEXT}, TLS
 * alone {@code SSL}, neither {@code PLAINTEXT}. Anything else Kafka's clients support (OAUTHBEARER,
 * Kerberos, PEM certificates, ...) goes through {@link Builder#property(String, String)}, which
 * passes settings unchanged to the producer, the consumers and the admin client and wins over
 * everything Courier sets.
 */
public final class KafkaConfig {

    /** Default bootstrap servers: the local broker of {@code scripts/kafka}. */
    public static final String DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092";
    /** Default client id prefix. */
    public static final String DEFAULT_CLIENT_ID = "courier";
    /** Default partition count of topics Courier creates. */
    public static final int DEFAULT_PARTITIONS = 6;
    /** Default largest payload accepted: 1,000,000 bytes, below the broker's default record limit (~1 MiB) with room for headers. */
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000;
    /**
     * Largest {@link Builder#maxPayloadBytes(int)} accepted: 512 MiB. Far above what a broker takes by
     * default ({@code message.max.bytes} ~1 MiB, {@code socket.request.max.bytes} 100 MiB), and leaves
     * room for headers and batch framing in Kafka's 32-bit sizes.
     */
    public static final int MAX_PAYLOAD_BYTES_LIMIT = 512 * 1024 * 1024;
    /** Shortest {@link Builder#sessionTimeout(Duration)} accepted: 1 s (brokers refuse less than {@code group.min.session.timeout.ms}, 6 s by default). */
    public static final Duration MIN_SESSION_TIMEOUT = Duration.ofSeconds(1);
    /** Longest timeout accepted: Kafka takes timeouts as 32-bit milliseconds (about 24.8 days). */
    public static final Duration MAX_TIMEOUT = Duration.ofMillis(Integer.MAX_VALUE);
    /** Default upper bound on the time from publish to acknowledgement, retries included. */
    public static final Duration DEFAULT_DELIVERY_TIMEOUT = Duration.ofMinutes(2);
    /** Default time one produce request may wait for the broker. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);
    /** Default time a publish may block when the producer's buffer is full or metadata is missing. */
    public static final Duration DEFAULT_MAX_BLOCK = Duration.ofSeconds(60);
    /** Default producer linger: how long a batch waits for more records. */
    public static final Duration DEFAULT_LINGER = Duration.ofMillis(5);
    /** Default producer batch size in bytes per partition. */
    public static final int DEFAULT_BATCH_SIZE_BYTES = 16 * 1024;
    /** Default records returned by one consumer poll, at most (also capped by the subscription's maxInFlight). */
    public static final int DEFAULT_MAX_POLL_RECORDS = 500;
    /** Default interval between offset commits of a subscription. */
    public static final Duration DEFAULT_COMMIT_INTERVAL = Duration.ofMillis(500);
    /** Default time subscribe waits for the consumer to join its group; also the admin timeout. */
    public static final Duration DEFAULT_OPERATION_TIMEOUT = Duration.ofSeconds(60);
    /** Default prefix of the delay topics. */
    public static final String DEFAULT_DELAY_TOPIC_PREFIX = "courier.delay.";
    /** Default consumer group of the delay forwarder. */
    public static final String DEFAULT_DELAY_FORWARDER_GROUP = "courier-delay-forwarder";

    private final String bootstrapServers;
    private final String clientId;
    private final SaslMechanism saslMechanism;
    private final String saslUsername;
    private final String saslPassword;
    private final boolean tls;
    private final Path truststore;
    private final String truststorePassword;
    private final String truststoreType;
    private final Path keystore;
    private final String keystorePassword;
    private final String keystoreType;
    private final String keyPassword;
    private final boolean hostnameVerification;
    private final Duration deliveryTimeout;
    private final Duration requestTimeout;
    private final Duration maxBlock;
    private final Compression compression;
    private final Duration linger;
    private final int batchSizeBytes;
    private final String transactionalId;
    private final int maxPayloadBytes;
    private final int partitions;
    private final Map<String, Integer> topicPartitions;
    private final Short replicationFactor;
    private final boolean verifyPartitions;
    private final AssignmentStrategy assignmentStrategy;
    private final int maxPollRecords;
    private final Duration sessionTimeout;
    private final Duration commitInterval;
    private final Duration operationTimeout;
    private final KafkaSubscriptionOptions subscriptionDefaults;
    private final String delayTopicPrefix;
    private final String delayForwarderGroup;
    private final boolean runDelayForwarder;
    private final boolean spreadUnkeyedMessages;
    private final Map<String, String> properties;

    private KafkaConfig(Builder b) {
        this.bootstrapServers = b.bootstrapServers;
        this.clientId = b.clientId;
        this.saslMechanism = b.saslMechanism;
        this.saslUsername = b.saslUsername;
        this.saslPassword = b.saslPassword;
        this.tls = b.tls;
        this.truststore = b.truststore;
        this.truststorePassword = b.truststorePassword;
        this.truststoreType = b.truststoreType;
        this.keystore = b.keystore;
        this.keystorePassword = b.keystorePassword;
        this.keystoreType = b.keystoreType;
        this.keyPassword = b.keyPassword;
        this.hostnameVerification = b.hostnameVerification;
        this.deliveryTimeout = b.deliveryTimeout;
        this.requestTimeout = b.requestTimeout;
        this.maxBlock = b.maxBlock;
        this.compression = b.compression;
        this.linger = b.linger;
        this.batchSizeBytes = b.batchSizeBytes;
        this.transactionalId = b.transactionalId;
        this.maxPayloadBytes = b.maxPayloadBytes;
        this.partitions = b.partitions;
        this.topicPartitions = Collections.unmodifiableMap(new TreeMap<>(b.topicPartitions));
        this.replicationFactor = b.replicationFactor;
        this.verifyPartitions = b.verifyPartitions;
        this.assignmentStrategy = b.assignmentStrategy;
        this.maxPollRecords = b.maxPollRecords;
        this.sessionTimeout = b.sessionTimeout;
        this.commitInterval = b.commitInterval;
        this.operationTimeout = b.operationTimeout;
        this.subscriptionDefaults = b.subscriptionDefaults;
        this.delayTopicPrefix = b.delayTopicPrefix;
        this.delayForwarderGroup = b.delayForwarderGroup;
        this.runDelayForwarder = b.runDelayForwarder;
        this.spreadUnkeyedMessages = b.spreadUnkeyedMessages;
        this.properties = Collections.unmodifiableMap(new LinkedHashMap<>(b.properties));
    }

    /** The defaults: the local broker on {@value #DEFAULT_BOOTSTRAP_SERVERS}, no security. */
    public static KafkaConfig defaults() {
        return builder().build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.bootstrapServers = bootstrapServers;
        b.clientId = clientId;
        b.saslMechanism = saslMechanism;
        b.saslUsername = saslUsername;
        b.saslPassword = saslPassword;
        b.tls = tls;
        b.truststore = truststore;
        b.truststorePassword = truststorePassword;
        b.truststoreType = truststoreType;
        b.keystore = keystore;
        b.keystorePassword = keystorePassword;
        b.keystoreType = keystoreType;
        b.keyPassword = keyPassword;
        b.hostnameVerification = hostnameVerification;
        b.deliveryTimeout = deliveryTimeout;
        b.requestTimeout = requestTimeout;
        b.maxBlock = maxBlock;
        b.compression = compression;
        b.linger = linger;
        b.batchSizeBytes = batchSizeBytes;
        b.transactionalId = transactionalId;
        b.maxPayloadBytes = maxPayloadBytes;
        b.partitions = partitions;
        b.topicPartitions.putAll(topicPartitions);
        b.replicationFactor = replicationFactor;
        b.verifyPartitions = verifyPartitions;
        b.assignmentStrategy = assignmentStrategy;
        b.maxPollRecords = maxPollRecords;
        b.sessionTimeout = sessionTimeout;
        b.commitInterval = commitInterval;
        b.operationTimeout = operationTimeout;
        b.subscriptionDefaults = subscriptionDefaults;
        b.delayTopicPrefix = delayTopicPrefix;
        b.delayForwarderGroup = delayForwarderGroup;
        b.runDelayForwarder = runDelayForwarder;
        b.spreadUnkeyedMessages = spreadUnkeyedMessages;
        b.properties.putAll(properties);
        return b;
    }

    /** Comma-separated {@code host:port} list of brokers to bootstrap from. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** Prefix of the {@code client.id} of every client this transport creates (shown in broker logs and quotas). */
    public String clientId() {
        return clientId;
    }

    /** The SASL mechanism, if SASL is configured. */
    public Optional<SaslMechanism> saslMechanism() {
        return Optional.ofNullable(saslMechanism);
    }

    /** The SASL user name, if SASL is configured. */
    public Optional<String> saslUsername() {
        return Optional.ofNullable(saslUsername);
    }

    /** True when connections use TLS: set explicitly, or implied by a truststore or keystore. */
    public boolean tls() {
        return tls || truststore != null || keystore != null;
    }

    /** The TLS truststore file, if one is set (otherwise the JVM's default trust). */
    public Optional<Path> truststore() {
        return Optional.ofNullable(truststore);
    }

    /** The TLS keystore file for client certificates (mutual TLS), if one is set. */
    public Optional<Path> keystore() {
        return Optional.ofNullable(keystore);
    }

    /** Whether TLS verifies that the broker's certificate matches its host name (default true). */
    public boolean hostnameVerification() {
        return hostnameVerification;
    }

    /**
     * Kafka's {@code security.protocol}, derived from the SASL and TLS settings: {@code PLAINTEXT},
     * {@code SSL}, {@code SASL_PLAINTEXT} or {@code SASL_SSL}.
     */
    public String securityProtocol() {
        if (saslMechanism != null) {
            return tls() ? "SASL_SSL" : "SASL_PLAINTEXT";
        }
        return tls() ? "SSL" : "PLAINTEXT";
    }

    /** Upper bound on the time between publish and acknowledgement, producer retries included (default 2 min). */
    public Duration deliveryTimeout() {
        return deliveryTimeout;
    }

    /** How long one request may wait for the broker (default 30 s). */
    public Duration requestTimeout() {
        return requestTimeout;
    }

    /** How long a publish call may block on a full buffer or missing metadata before failing (default 60 s). */
    public Duration maxBlock() {
        return maxBlock;
    }

    /** Producer compression (default {@link Compression#NONE}). */
    public Compression compression() {
        return compression;
    }

    /** How long the producer waits to fill a batch (default 5 ms). */
    public Duration linger() {
        return linger;
    }

    /** Largest batch per partition in bytes (default 16 KiB). */
    public int batchSizeBytes() {
        return batchSizeBytes;
    }

    /**
     * The producer's {@code transactional.id}, when {@link io.courier.Publisher#publishAll publishAll}
     * is atomic. It must be unique per running process: a second producer with the same id fences the
     * first. Empty (the default) means batches report per-message outcomes instead.
     */
    public Optional<String> transactionalId() {
        return Optional.ofNullable(transactionalId);
    }

    /** Largest payload accepted, in bytes (default {@value #DEFAULT_MAX_PAYLOAD_BYTES}). */
    public int maxPayloadBytes() {
        return maxPayloadBytes;
    }

    /** Partition count of topics Courier creates, and the minimum it requires of existing ones (default {@value #DEFAULT_PARTITIONS}). */
    public int partitions() {
        return partitions;
    }

    /** Per-topic partition counts that override {@link #partitions()}. */
    public Map<String, Integer> topicPartitions() {
        return topicPartitions;
    }

    /** The partition count required for {@code topic}: its override, or {@link #partitions()}. */
    public int partitionsFor(String topic) {
        return topicPartitions.getOrDefault(topic, partitions);
    }

    /** Replication factor of topics Courier creates; empty (the default) means the broker's {@code default.replication.factor}. */
    public Optional<Short> replicationFactor() {
        return Optional.ofNullable(replicationFactor);
    }

    /** Whether an existing topic with fewer partitions than required is an error (default true). */
    public boolean verifyPartitions() {
        return verifyPartitions;
    }

    /** How groups assign partitions (default {@link AssignmentStrategy#COOPERATIVE_STICKY}). */
    public AssignmentStrategy assignmentStrategy() {
        return assignmentStrategy;
    }

    /** Records returned by one poll at most (default 500); a subscription also caps it at its maxInFlight. */
    public int maxPollRecords() {
        return maxPollRecords;
    }

    /**
     * The consumer session timeout: how long after a consumer stops heartbeating (it died) its
     * partitions go to the other consumers of the group. Empty (the default) means the subscription's
     * {@link io.courier.SubscriptionOptions#leaseTimeout() lease timeout}. The broker bounds it with
     * {@code group.min.session.timeout.ms} and {@code group.max.session.timeout.ms}.
     */
    public Optional<Duration> sessionTimeout() {
        return Optional.ofNullable(sessionTimeout);
    }

    /** How often a subscription commits the offsets of finished records (default 500 ms); it also commits on revocation and close. */
    public Duration commitInterval() {
        return commitInterval;
    }

    /** How long subscribe waits to join the group, and admin operations (topic creation) may take (default 60 s). */
    public Duration operationTimeout() {
        return operationTimeout;
    }

    /** Kafka settings of subscriptions made without explicit {@link KafkaSubscriptionOptions}. */
    public KafkaSubscriptionOptions subscriptionDefaults() {
        return subscriptionDefaults;
    }

    /** Prefix of the delay topics (default {@value #DEFAULT_DELAY_TOPIC_PREFIX}): {@code courier.delay.1s}, ... */
    public String delayTopicPrefix() {
        return delayTopicPrefix;
    }

    /** Consumer group of the delay forwarder (default {@value #DEFAULT_DELAY_FORWARDER_GROUP}). */
    public String delayForwarderGroup() {
        return delayForwarderGroup;
    }

    /**
     * Whether this transport runs a delay forwarder once it subscribes or publishes with a delay
     * (default true). Delayed messages and retries are only delivered while at least one process
     * runs a forwarder; processes share the work through the forwarder's consumer group.
     */
    public boolean runDelayForwarder() {
        return runDelayForwarder;
    }

    /**
     * Whether messages without a key are spread round-robin over the topic's partitions (default true),
     * so that the consumers of a group share even a short burst. When off, Kafka's sticky partitioner
     * places them: bigger batches, but a burst lands in one partition and is handled by one consumer,
     * one record at a time. Messages with a key always go to the partition of their key.
     */
    public boolean spreadUnkeyedMessages() {
        return spreadUnkeyedMessages;
    }

    /** Settings passed unchanged to every Kafka client; they override what Courier sets. */
    public Map<String, String> properties() {
        return properties;
    }

    /**
     * The settings every Kafka client of this transport starts from: bootstrap servers, security
     * (protocol, SASL JAAS configuration, TLS stores) and then the {@linkplain #properties() passthrough
     * properties}. Useful to build a raw client with the same connection settings (benchmarks, tools).
     * The map contains secrets: do not log it.
     */
    public Map<String, Object> connectionProperties() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("bootstrap.servers", bootstrapServers);
        p.put("security.protocol", securityProtocol());
        if (saslMechanism != null) {
            p.put("sasl.mechanism", saslMechanism.kafkaName());
            p.put("sasl.jaas.config", saslMechanism.loginModule() + " required username=\"" + jaasEscape(saslUsername)
                    + "\" password=\"" + jaasEscape(saslPassword) + "\";");
        }
        if (tls()) {
            if (!hostnameVerification) {
                p.put("ssl.endpoint.identification.algorithm", "");
            }
            if (truststore != null) {
                p.put("ssl.truststore.location", truststore.toString());
                p.put("ssl.truststore.type", truststoreType);
                if (truststorePassword != null) {
                    p.put("ssl.truststore.password", truststorePassword);
                }
            }
            if (keystore != null) {
                p.put("ssl.keystore.location", keystore.toString());
                p.put("ssl.keystore.type", keystoreType);
                p.put("ssl.keystore.password", keystorePassword);
                if (keyPassword != null) {
                    p.put("ssl.key.password", keyPassword);
                }
            }
        }
        p.putAll(properties);
        return p;
    }

    private static String jaasEscape(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    /** Passwords are never printed. */
    @Override
    public String toString() {
        Map<String, String> shownProperties = new TreeMap<>();
        properties.forEach((k, v) -> shownProperties.put(k, isSecret(k) ? "****" : v));
        return "KafkaConfig{bootstrapServers=" + bootstrapServers + ", clientId=" + clientId
                + ", securityProtocol=" + securityProtocol()
                + (saslMechanism != null ? ", sasl=" + saslMechanism + ":" + saslUsername + ":****" : "")
                + (truststore != null ? ", truststore=" + truststore : "")
                + (keystore != null ? ", keystore=" + keystore : "")
                + ", compression=" + compression + ", linger=" + linger + ", batchSizeBytes=" + batchSizeBytes
                + ", deliveryTimeout=" + deliveryTimeout
                + (transactionalId != null ? ", transactionalId=" + transactionalId : "")
                + ", maxPayloadBytes=" + maxPayloadBytes + ", partitions=" + partitions
                + (topicPartitions.isEmpty() ? "" : ", topicPartitions=" + topicPartitions)
                + ", replicationFactor=" + (replicationFactor == null ? "broker default" : replicationFactor)
                + ", assignmentStrategy=" + assignmentStrategy + ", maxPollRecords=" + maxPollRecords
                + ", spreadUnkeyedMessages=" + spreadUnkeyedMessages
                + ", subscriptionDefaults=" + subscriptionDefaults
                + (shownProperties.isEmpty() ? "" : ", properties=" + shownProperties) + '}';
    }

    private static boolean isSecret(String key) {
        String k = key.toLowerCase(java.util.Locale.ROOT);
        return k.contains("password") || k.contains("jaas") || k.contains("secret") || k.endsWith(".key");
    }

    /** Builds a {@link KafkaConfig}; every setter validates its argument. Not thread-safe. */
    public static final class Builder {
        private String bootstrapServers = DEFAULT_BOOTSTRAP_SERVERS;
        private String clientId = DEFAULT_CLIENT_ID;
        private SaslMechanism saslMechanism;
        private String saslUsername;
        private String saslPassword;
        private boolean tls;
        private Path truststore;
        private String truststorePassword;
        private String truststoreType;
        private Path keystore;
        private String keystorePassword;
        private String keystoreType;
        private String keyPassword;
        private boolean hostnameVerification = true;
        private Duration deliveryTimeout = DEFAULT_DELIVERY_TIMEOUT;
        private Duration requestTimeout = DEFAULT_REQUEST_TIMEOUT;
        private Duration maxBlock = DEFAULT_MAX_BLOCK;
        private Compression compression = Compression.NONE;
        private Duration linger = DEFAULT_LINGER;
        private int batchSizeBytes = DEFAULT_BATCH_SIZE_BYTES;
        private String transactionalId;
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private int partitions = DEFAULT_PARTITIONS;
        private final Map<String, Integer> topicPartitions = new TreeMap<>();
        private Short replicationFactor;
        private boolean verifyPartitions = true;
        private AssignmentStrategy assignmentStrategy = AssignmentStrategy.COOPERATIVE_STICKY;
        private int maxPollRecords = DEFAULT_MAX_POLL_RECORDS;
        private Duration sessionTimeout;
        private Duration commitInterval = DEFAULT_COMMIT_INTERVAL;
        private Duration operationTimeout = DEFAULT_OPERATION_TIMEOUT;
        private KafkaSubscriptionOptions subscriptionDefaults = KafkaSubscriptionOptions.defaults();
        private String delayTopicPrefix = DEFAULT_DELAY_TOPIC_PREFIX;
        private String delayForwarderGroup = DEFAULT_DELAY_FORWARDER_GROUP;
        private boolean runDelayForwarder = true;
        private boolean spreadUnkeyedMessages = true;
        private final Map<String, String> properties = new LinkedHashMap<>();

        private Builder() {
        }

        /** Comma-separated {@code host:port} list, e.g. {@code "kafka-1:9092,kafka-2:9092"}. */
        public Builder bootstrapServers(String servers) {
            Objects.requireNonNull(servers, "bootstrapServers");
            if (servers.isBlank()) {
                throw new IllegalArgumentException("bootstrapServers must not be blank");
            }
            for (String s : servers.split(",")) {
                String server = s.trim();
                int colon = server.lastIndexOf(':');
                if (colon <= 0 || colon == server.length() - 1 || !server.substring(colon + 1).chars().allMatch(Character::isDigit)) {
                    throw new IllegalArgumentException("bootstrapServers must be a comma-separated list of host:port, but was '" + servers + "'");
                }
            }
            this.bootstrapServers = servers;
            return this;
        }

        /** Prefix of every client's {@code client.id} (default {@value #DEFAULT_CLIENT_ID}). */
        public Builder clientId(String clientId) {
            Objects.requireNonNull(clientId, "clientId");
            if (clientId.isBlank()) {
                throw new IllegalArgumentException("clientId must not be blank");
            }
            this.clientId = clientId;
            return this;
        }

        /**
         * Authenticates with SASL {@code mechanism} as {@code username}. Combine PLAIN with TLS: it
         * sends the password as is.
         */
        public Builder sasl(SaslMechanism mechanism, String username, String password) {
            this.saslMechanism = Objects.requireNonNull(mechanism, "mechanism");
            Objects.requireNonNull(username, "username");
            Objects.requireNonNull(password, "password");
            if (username.isBlank()) {
                throw new IllegalArgumentException("sasl username must not be blank");
            }
            this.saslUsername = username;
            this.saslPassword = password;
            return this;
        }

        /** Turns TLS on or off; a truststore or keystore turns it on as well. Default off. */
        public Builder tls(boolean tls) {
            this.tls = tls;
            return this;
        }

        /**
         * Trusts the broker certificates in {@code file} (type from the extension: {@code .p12}/{@code .pfx}
         * PKCS12, {@code .pem} PEM, else JKS); turns TLS on.
         */
        public Builder truststore(Path file, String password) {
            this.truststore = Objects.requireNonNull(file, "truststore");
            this.truststorePassword = password;
            this.truststoreType = storeType(file);
            return this;
        }

        /** Presents the client certificate in {@code file} (mutual TLS); turns TLS on. */
        public Builder keystore(Path file, String storePassword, String keyPassword) {
            this.keystore = Objects.requireNonNull(file, "keystore");
            this.keystorePassword = storePassword;
            this.keyPassword = keyPassword;
            this.keystoreType = storeType(file);
            return this;
        }

        /** Whether TLS checks the broker's host name against its certificate (default true; turn off only for tests). */
        public Builder hostnameVerification(boolean verify) {
            this.hostnameVerification = verify;
            return this;
        }

        /** Upper bound from publish to acknowledgement, retries included; must exceed linger plus the request timeout. */
        public Builder deliveryTimeout(Duration timeout) {
            this.deliveryTimeout = positive(timeout, "deliveryTimeout");
            return this;
        }

        /** How long one request may wait for the broker. */
        public Builder requestTimeout(Duration timeout) {
            this.requestTimeout = positive(timeout, "requestTimeout");
            return this;
        }

        /** How long a publish call may block on a full buffer or missing metadata. */
        public Builder maxBlock(Duration maxBlock) {
            this.maxBlock = positive(maxBlock, "maxBlock");
            return this;
        }

        /** Producer compression. */
        public Builder compression(Compression compression) {
            this.compression = Objects.requireNonNull(compression, "compression");
            return this;
        }

        /** How long the producer waits to fill a batch; zero sends at once. */
        public Builder linger(Duration linger) {
            Objects.requireNonNull(linger, "linger");
            if (linger.isNegative()) {
                throw new IllegalArgumentException("linger must be >= 0, but was " + linger);
            }
            this.linger = atMostMaxTimeout(linger, "linger");
            return this;
        }

        /** Largest batch per partition in bytes, at least 1. */
        public Builder batchSizeBytes(int bytes) {
            if (bytes < 1) {
                throw new IllegalArgumentException("batchSizeBytes must be >= 1, but was " + bytes);
            }
            this.batchSizeBytes = bytes;
            return this;
        }

        /** Makes publishAll atomic with this {@code transactional.id} (unique per process); {@code null} turns it off. */
        public Builder transactionalId(String transactionalId) {
            if (transactionalId != null && transactionalId.isBlank()) {
                throw new IllegalArgumentException("transactionalId must not be blank");
            }
            this.transactionalId = transactionalId;
            return this;
        }

        /**
         * Largest payload accepted, in bytes (1 to {@value #MAX_PAYLOAD_BYTES_LIMIT}); topics Courier creates
         * allow records of this size plus headers. An existing topic or a broker may accept less: Kafka's
         * refusal fails the publish with {@link io.courier.MessageTooLargeException} as well.
         */
        public Builder maxPayloadBytes(int bytes) {
            if (bytes < 1 || bytes > MAX_PAYLOAD_BYTES_LIMIT) {
                throw new IllegalArgumentException("maxPayloadBytes must be between 1 and " + MAX_PAYLOAD_BYTES_LIMIT + ", but was " + bytes);
            }
            this.maxPayloadBytes = bytes;
            return this;
        }

        /** Partition count of created topics and minimum required of existing ones. */
        public Builder partitions(int partitions) {
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions must be >= 1, but was " + partitions);
            }
            this.partitions = partitions;
            return this;
        }

        /** Partition count for one topic, overriding {@link #partitions(int)}. */
        public Builder partitions(String topic, int partitions) {
            Objects.requireNonNull(topic, "topic");
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions of topic '" + topic + "' must be >= 1, but was " + partitions);
            }
            this.topicPartitions.put(topic, partitions);
            return this;
        }

        /** Replication factor of created topics (at least 1); by default the broker's. */
        public Builder replicationFactor(int replicationFactor) {
            if (replicationFactor < 1 || replicationFactor > Short.MAX_VALUE) {
                throw new IllegalArgumentException("replicationFactor must be between 1 and " + Short.MAX_VALUE + ", but was " + replicationFactor);
            }
            this.replicationFactor = (short) replicationFactor;
            return this;
        }

        /** Whether an existing topic with too few partitions is an error (default true). */
        public Builder verifyPartitions(boolean verify) {
            this.verifyPartitions = verify;
            return this;
        }

        /** How groups assign partitions. */
        public Builder assignmentStrategy(AssignmentStrategy strategy) {
            this.assignmentStrategy = Objects.requireNonNull(strategy, "assignmentStrategy");
            return this;
        }

        /** Records returned by one poll at most. */
        public Builder maxPollRecords(int records) {
            if (records < 1) {
                throw new IllegalArgumentException("maxPollRecords must be >= 1, but was " + records);
            }
            this.maxPollRecords = records;
            return this;
        }

        /**
         * Consumer session timeout, at least {@link #MIN_SESSION_TIMEOUT} (the broker may require more);
         * {@code null} means each subscription's lease timeout.
         */
        public Builder sessionTimeout(Duration timeout) {
            if (timeout != null && positive(timeout, "sessionTimeout").compareTo(MIN_SESSION_TIMEOUT) < 0) {
                throw new IllegalArgumentException("sessionTimeout must be >= " + MIN_SESSION_TIMEOUT + ", but was " + timeout);
            }
            this.sessionTimeout = timeout;
            return this;
        }

        /** How often subscriptions commit finished offsets. */
        public Builder commitInterval(Duration interval) {
            this.commitInterval = positive(interval, "commitInterval");
            return this;
        }

        /**
         * How long subscribe waits to join the group and admin operations may take; at least
         * {@link #requestTimeout(Duration) requestTimeout} (Kafka's {@code default.api.timeout.ms} must
         * not be below {@code request.timeout.ms}).
         */
        public Builder operationTimeout(Duration timeout) {
            this.operationTimeout = positive(timeout, "operationTimeout");
            return this;
        }

        /** Kafka settings of subscriptions made without explicit ones. */
        public Builder subscriptionDefaults(KafkaSubscriptionOptions defaults) {
            this.subscriptionDefaults = Objects.requireNonNull(defaults, "subscriptionDefaults");
            return this;
        }

        /** Prefix of the delay topics; must be a legal topic name prefix. */
        public Builder delayTopicPrefix(String prefix) {
            Objects.requireNonNull(prefix, "delayTopicPrefix");
            if (prefix.isEmpty() || !prefix.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '.' || c == '_' || c == '-')) {
                throw new IllegalArgumentException("delayTopicPrefix must be non-empty and use only letters, digits, '.', '_' and '-', but was '" + prefix + "'");
            }
            this.delayTopicPrefix = prefix;
            return this;
        }

        /** Consumer group of the delay forwarder. */
        public Builder delayForwarderGroup(String group) {
            Objects.requireNonNull(group, "delayForwarderGroup");
            if (group.isBlank()) {
                throw new IllegalArgumentException("delayForwarderGroup must not be blank");
            }
            this.delayForwarderGroup = group;
            return this;
        }

        /** Whether this transport runs a delay forwarder (default true). */
        public Builder runDelayForwarder(boolean run) {
            this.runDelayForwarder = run;
            return this;
        }

        /** Whether messages without a key are spread round-robin over the partitions (default true). */
        public Builder spreadUnkeyedMessages(boolean spread) {
            this.spreadUnkeyedMessages = spread;
            return this;
        }

        /** Passes {@code key=value} unchanged to every Kafka client this transport creates; wins over Courier's settings. */
        public Builder property(String key, String value) {
            Objects.requireNonNull(key, "property key");
            Objects.requireNonNull(value, () -> "value of property '" + key + "'");
            if (key.isBlank()) {
                throw new IllegalArgumentException("property key must not be blank, but was '" + key + "'");
            }
            this.properties.put(key, value);
            return this;
        }

        /**
         * Validates the combination and builds: {@code deliveryTimeout >= linger + requestTimeout} and
         * {@code operationTimeout >= requestTimeout}, which Kafka's clients require.
         */
        public KafkaConfig build() {
            long minimumDelivery = linger.toMillis() + requestTimeout.toMillis();
            if (deliveryTimeout.toMillis() < minimumDelivery) {
                throw new IllegalArgumentException("deliveryTimeout must be >= linger + requestTimeout (" + minimumDelivery
                        + " ms), but was " + deliveryTimeout.toMillis() + " ms");
            }
            if (operationTimeout.compareTo(requestTimeout) < 0) {
                throw new IllegalArgumentException("operationTimeout must be >= requestTimeout (" + requestTimeout
                        + "), but was " + operationTimeout);
            }
            if (keystore != null && keystorePassword == null) {
                throw new IllegalArgumentException("keystore " + keystore + " needs a password, but none was given");
            }
            return new KafkaConfig(this);
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(what + " must be > 0, but was " + d);
            }
            return atMostMaxTimeout(d, what);
        }

        private static Duration atMostMaxTimeout(Duration d, String what) {
            if (d.compareTo(MAX_TIMEOUT) > 0) {
                throw new IllegalArgumentException(what + " must be at most " + MAX_TIMEOUT + ", but was " + d);
            }
            return d;
        }

        private static String storeType(Path file) {
            String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
            if (name.endsWith(".p12") || name.endsWith(".pfx")) {
                return "PKCS12";
            }
            if (name.endsWith(".pem")) {
                return "PEM";
            }
            return "JKS";
        }
    }
}
