package io.courier.rabbitmq;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLContext;

/**
 * Everything the RabbitMQ transport needs to know: where the broker is, how to authenticate and
 * encrypt, how topics map to exchanges and groups to queues, and the timeouts that bound publishing
 * and recovery. Immutable; build one with {@link #builder()}, start from {@link #defaults()}, or
 * derive a changed copy with {@link #toBuilder()}.
 *
 * <pre>{@code
 * RabbitMqConfig config = RabbitMqConfig.builder()
 *     .uri("amqps://orders:secret@rabbit.internal:5671/prod")   // amqps turns TLS on, hostname verified
 *     .connectionName("order-service")
 *     .queueType(QueueType.QUORUM)
 *     .declareGroups("orders", "billing", "shipping")           // keep messages for groups not started yet
 *     .build();
 * }</pre>
 *
 * <p>Validation happens in {@link Builder#build()}; messages say what was expected and what was given.
 * {@link #toString()} never shows the password.
 */
public final class RabbitMqConfig {

    /** Default broker host. */
    public static final String DEFAULT_HOST = "localhost";
    /** Default AMQP port without TLS. */
    public static final int DEFAULT_PORT = 5672;
    /** Default AMQP port with TLS. */
    public static final int DEFAULT_TLS_PORT = 5671;
    /** Default virtual host. */
    public static final String DEFAULT_VIRTUAL_HOST = "/";
    /** Default user name (RabbitMQ only lets it connect from localhost). */
    public static final String DEFAULT_USERNAME = "guest";
    /** Default password. */
    public static final String DEFAULT_PASSWORD = "guest";
    /** Default client-provided connection name prefix, shown in the management UI. */
    public static final String DEFAULT_CONNECTION_NAME = "courier";
    /** Default heartbeat: a dead TCP peer is noticed within about twice this. */
    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(20);
    /** Default TCP connect timeout. */
    public static final Duration DEFAULT_CONNECTION_TIMEOUT = Duration.ofSeconds(10);
    /** Default pause between reconnection attempts after the connection was lost. */
    public static final Duration DEFAULT_RECOVERY_INTERVAL = Duration.ofSeconds(1);
    /** Default time a publish waits for a lost connection to come back before failing. */
    public static final Duration DEFAULT_RECOVERY_TIMEOUT = Duration.ofSeconds(30);
    /** Default time the broker has to confirm a published message. */
    public static final Duration DEFAULT_PUBLISH_CONFIRM_TIMEOUT = Duration.ofSeconds(10);
    /** Default number of channels publishing may use at once. */
    public static final int DEFAULT_PUBLISHER_CHANNELS = 8;
    /** Default largest payload accepted: 1 MiB. */
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
    /**
     * Largest {@link Builder#maxPayloadBytes(int)} accepted: 512 MiB, the most RabbitMQ's
     * {@code max_message_size} can be set to (its default is 128 MiB).
     */
    public static final int MAX_PAYLOAD_BYTES_LIMIT = 512 * 1024 * 1024;
    /**
     * Largest {@link Builder#publisherChannels(int)} accepted: RabbitMQ's default {@code channel_max}
     * (2047 channels per connection).
     */
    public static final int MAX_PUBLISHER_CHANNELS = 2047;
    /** Default name prefix of the delay exchanges and queues. */
    public static final String DEFAULT_DELAY_PREFIX = "courier.delay";
    /**
     * Largest number of partitions {@link Builder#keyOrdering(int)} accepts. Every subscription of a
     * key-ordered transport opens one channel per partition (plus one) on the consumer connection,
     * whose channels RabbitMQ limits (2047 by default).
     */
    public static final int MAX_KEY_ORDERING_PARTITIONS = 64;
    /** {@link #keyOrderingPartitions()} when key ordering is off (the default). */
    public static final int NO_KEY_ORDERING = 0;

    /** How the connection is encrypted. */
    public enum TlsMode {
        /** Plain TCP. */
        NONE,
        /** TLS with certificate and hostname verification. */
        VERIFIED,
        /** TLS that trusts any certificate and skips hostname verification: for local development only. */
        INSECURE_TRUST_ALL_FOR_DEVELOPMENT_ONLY
    }

    private final String host;
    private final int port;
    private final String virtualHost;
    private final String username;
    private final String password;
    private final TlsMode tlsMode;
    private final SSLContext sslContext;
    private final String connectionName;
    private final Duration heartbeat;
    private final Duration connectionTimeout;
    private final Duration recoveryInterval;
    private final Duration recoveryTimeout;
    private final Duration publishConfirmTimeout;
    private final int publisherChannels;
    private final int maxPayloadBytes;
    private final boolean durable;
    private final QueueType queueType;
    private final Map<String, Object> queueArguments;
    private final Map<String, TopicTopology> topologies;
    private final Map<String, Set<String>> declaredGroups;
    private final String delayPrefix;
    private final int keyOrderingPartitions;

    private RabbitMqConfig(Builder b) {
        this.host = b.host;
        this.port = b.port != null ? b.port : (b.tlsMode == TlsMode.NONE ? DEFAULT_PORT : DEFAULT_TLS_PORT);
        this.virtualHost = b.virtualHost;
        this.username = b.username;
        this.password = b.password;
        this.tlsMode = b.tlsMode;
        this.sslContext = b.sslContext;
        this.connectionName = b.connectionName;
        this.heartbeat = b.heartbeat;
        this.connectionTimeout = b.connectionTimeout;
        this.recoveryInterval = b.recoveryInterval;
        this.recoveryTimeout = b.recoveryTimeout;
        this.publishConfirmTimeout = b.publishConfirmTimeout;
        this.publisherChannels = b.publisherChannels;
        this.maxPayloadBytes = b.maxPayloadBytes;
        this.durable = b.durable;
        this.queueType = b.queueType;
        this.queueArguments = Collections.unmodifiableMap(new LinkedHashMap<>(b.queueArguments));
        this.topologies = Map.copyOf(b.topologies);
        Map<String, Set<String>> groups = new LinkedHashMap<>();
        b.declaredGroups.forEach((t, g) -> groups.put(t, Collections.unmodifiableSet(new LinkedHashSet<>(g))));
        this.declaredGroups = Collections.unmodifiableMap(groups);
        this.delayPrefix = b.delayPrefix;
        this.keyOrderingPartitions = b.keyOrderingPartitions;
    }

    /** The defaults: {@code amqp://guest:guest@localhost:5672/}, classic durable queues. */
    public static RabbitMqConfig defaults() {
        return builder().build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.host = host;
        b.port = port;
        b.virtualHost = virtualHost;
        b.username = username;
        b.password = password;
        b.tlsMode = tlsMode;
        b.sslContext = sslContext;
        b.connectionName = connectionName;
        b.heartbeat = heartbeat;
        b.connectionTimeout = connectionTimeout;
        b.recoveryInterval = recoveryInterval;
        b.recoveryTimeout = recoveryTimeout;
        b.publishConfirmTimeout = publishConfirmTimeout;
        b.publisherChannels = publisherChannels;
        b.maxPayloadBytes = maxPayloadBytes;
        b.durable = durable;
        b.queueType = queueType;
        b.queueArguments.putAll(queueArguments);
        b.topologies.putAll(topologies);
        declaredGroups.forEach((t, g) -> b.declaredGroups.put(t, new LinkedHashSet<>(g)));
        b.delayPrefix = delayPrefix;
        b.keyOrderingPartitions = keyOrderingPartitions;
        return b;
    }

    /** Broker host name or address. */
    public String host() {
        return host;
    }

    /** Broker port (5672, or 5671 with TLS, unless set). */
    public int port() {
        return port;
    }

    /** Virtual host. */
    public String virtualHost() {
        return virtualHost;
    }

    /** User name. */
    public String username() {
        return username;
    }

    /** Password; never printed by {@link #toString()}. */
    public String password() {
        return password;
    }

    /** How the connection is encrypted. */
    public TlsMode tlsMode() {
        return tlsMode;
    }

    /** The TLS context given with {@link Builder#tls(SSLContext)}; empty means the JVM's default. */
    public Optional<SSLContext> sslContext() {
        return Optional.ofNullable(sslContext);
    }

    /** The client-provided connection name prefix ({@code -publisher} / {@code -consumer} are appended). */
    public String connectionName() {
        return connectionName;
    }

    /** Requested AMQP heartbeat. */
    public Duration heartbeat() {
        return heartbeat;
    }

    /** TCP connect timeout. */
    public Duration connectionTimeout() {
        return connectionTimeout;
    }

    /** Pause between reconnection attempts. */
    public Duration recoveryInterval() {
        return recoveryInterval;
    }

    /** How long a publish waits for a lost connection to recover before it fails. */
    public Duration recoveryTimeout() {
        return recoveryTimeout;
    }

    /**
     * How long the broker has to confirm a message once it was written; also how long a publish
     * waits while the broker blocks publishers (resource alarm) before failing.
     */
    public Duration publishConfirmTimeout() {
        return publishConfirmTimeout;
    }

    /** Channels publishing may use at once; a publishing thread holds one only while it writes. */
    public int publisherChannels() {
        return publisherChannels;
    }

    /** Largest payload accepted, in bytes. */
    public int maxPayloadBytes() {
        return maxPayloadBytes;
    }

    /** Whether exchanges and queues are durable and messages persistent (default true). */
    public boolean durable() {
        return durable;
    }

    /** The type of the group queues. */
    public QueueType queueType() {
        return queueType;
    }

    /** Extra arguments for every group queue (e.g. {@code x-max-length}). */
    public Map<String, Object> queueArguments() {
        return queueArguments;
    }

    /** Explicitly configured topic topologies, by topic. */
    public Map<String, TopicTopology> topologies() {
        return topologies;
    }

    /** The topology of {@code topic}: configured, or {@link TopicTopology#defaultFor(String)}. */
    public TopicTopology topologyFor(String topic) {
        TopicTopology t = topologies.get(topic);
        return t != null ? t : TopicTopology.defaultFor(topic);
    }

    /** Groups whose queues are declared up front, by topic (see {@link Builder#declareGroups}). */
    public Map<String, Set<String>> declaredGroups() {
        return declaredGroups;
    }

    /** Name prefix of the delay exchanges and queues. */
    public String delayPrefix() {
        return delayPrefix;
    }

    /** The queue that holds {@code group}'s messages of {@code topic}: {@code <topic>.<group>}. */
    public static String groupQueueName(String topic, String group) {
        return topic + "." + group;
    }

    /**
     * The number of partitions of every topic in key-ordered mode (see {@link Builder#keyOrdering(int)}),
     * or {@value #NO_KEY_ORDERING} when key ordering is off.
     */
    public int keyOrderingPartitions() {
        return keyOrderingPartitions;
    }

    /** True when {@link Builder#keyOrdering(int)} was set: the subscriber is a {@link io.courier.KeyOrderedSubscriber}. */
    public boolean keyOrdered() {
        return keyOrderingPartitions != NO_KEY_ORDERING;
    }

    /**
     * The queue of partition {@code partition} of {@code group} on {@code topic} in key-ordered mode:
     * {@code <topic>.<group>.p<partition>}.
     */
    public static String partitionQueueName(String topic, String group, int partition) {
        return groupQueueName(topic, group) + ".p" + partition;
    }

    /**
     * The partition a message with {@code key} is published to in key-ordered mode: the CRC-32 (the
     * IEEE 802.3 polynomial of zlib and gzip, {@link java.util.zip.CRC32}) of the key's UTF-8 bytes,
     * read as an unsigned 32-bit number, modulo {@code partitions}. Stable across processes, versions
     * and languages, so any publisher can compute it.
     *
     * @throws IllegalArgumentException when {@code partitions} is not between 1 and
     *                                  {@value #MAX_KEY_ORDERING_PARTITIONS}
     */
    public static int keyPartition(String key, int partitions) {
        Objects.requireNonNull(key, "key");
        requirePartitions(partitions);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(key.getBytes(StandardCharsets.UTF_8));
        return (int) (crc.getValue() % partitions);
    }

    private static void requirePartitions(int partitions) {
        if (partitions < 1 || partitions > MAX_KEY_ORDERING_PARTITIONS) {
            throw new IllegalArgumentException("keyOrdering partitions must be between 1 and " + MAX_KEY_ORDERING_PARTITIONS
                    + ", but was " + partitions);
        }
    }

    @Override
    public String toString() {
        return "RabbitMqConfig{" + (tlsMode == TlsMode.NONE ? "amqp" : "amqps") + "://" + username + "@" + host + ":" + port
                + "/" + virtualHost + ", tls=" + tlsMode + ", connectionName=" + connectionName
                + ", queueType=" + queueType + ", durable=" + durable + ", publishConfirmTimeout=" + publishConfirmTimeout
                + ", recoveryTimeout=" + recoveryTimeout + ", publisherChannels=" + publisherChannels
                + (keyOrdered() ? ", keyOrderingPartitions=" + keyOrderingPartitions : "") + '}';
    }

    /** Builds a {@link RabbitMqConfig}. Not thread-safe. */
    public static final class Builder {
        private String host = DEFAULT_HOST;
        private Integer port;
        private String virtualHost = DEFAULT_VIRTUAL_HOST;
        private String username = DEFAULT_USERNAME;
        private String password = DEFAULT_PASSWORD;
        private TlsMode tlsMode = TlsMode.NONE;
        private SSLContext sslContext;
        private String connectionName = DEFAULT_CONNECTION_NAME;
        private Duration heartbeat = DEFAULT_HEARTBEAT;
        private Duration connectionTimeout = DEFAULT_CONNECTION_TIMEOUT;
        private Duration recoveryInterval = DEFAULT_RECOVERY_INTERVAL;
        private Duration recoveryTimeout = DEFAULT_RECOVERY_TIMEOUT;
        private Duration publishConfirmTimeout = DEFAULT_PUBLISH_CONFIRM_TIMEOUT;
        private int publisherChannels = DEFAULT_PUBLISHER_CHANNELS;
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private boolean durable = true;
        private QueueType queueType = QueueType.CLASSIC;
        private final Map<String, Object> queueArguments = new LinkedHashMap<>();
        private final Map<String, TopicTopology> topologies = new LinkedHashMap<>();
        private final Map<String, Set<String>> declaredGroups = new LinkedHashMap<>();
        private String delayPrefix = DEFAULT_DELAY_PREFIX;
        private int keyOrderingPartitions = NO_KEY_ORDERING;

        private Builder() {
        }

        /**
         * Sets host, port, virtual host, credentials and TLS from an AMQP URI such as
         * {@code amqp://user:pass@host:5672/vhost}. {@code amqps} turns on {@linkplain #tls() verified
         * TLS} (unlike the raw client's {@code setUri}, which trusts every certificate). Parts the URI
         * leaves out (port, credentials) keep their current values; an empty path means the default virtual host {@code /}.
         */
        public Builder uri(String uri) {
            Objects.requireNonNull(uri, "uri");
            URI parsed;
            try {
                parsed = new URI(uri);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("uri must be an AMQP URI like amqp://user:pass@host:5672/vhost, but was '"
                        + redact(uri) + "': " + e.getReason());
            }
            String scheme = parsed.getScheme() == null ? "" : parsed.getScheme().toLowerCase(java.util.Locale.ROOT);
            if (scheme.equals("amqps")) {
                if (tlsMode == TlsMode.NONE) {
                    tlsMode = TlsMode.VERIFIED;
                }
            } else if (!scheme.equals("amqp")) {
                throw new IllegalArgumentException("uri scheme must be amqp or amqps, but was '" + scheme + "' in '" + redact(uri) + "'");
            }
            if (parsed.getHost() == null) {
                throw new IllegalArgumentException("uri must name a host and an optional numeric port, like amqp://host:5672/vhost, but was '"
                        + redact(uri) + "'");
            }
            host = parsed.getHost();
            if (parsed.getPort() != -1) {
                port = parsed.getPort();
            }
            String userInfo = parsed.getRawUserInfo();
            if (userInfo != null) {
                int colon = userInfo.indexOf(':');
                username = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
                if (colon >= 0) {
                    password = decode(userInfo.substring(colon + 1));
                }
            }
            String path = parsed.getRawPath();
            if (path != null && path.length() > 1) {
                virtualHost = decode(path.substring(1));
            }
            return this;
        }

        private static String decode(String s) {
            return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
        }

        private static String redact(String uri) {
            return uri.replaceAll("//([^:/@]*):[^@/]*@", "//$1:***@");
        }

        /** Broker host (default {@value #DEFAULT_HOST}). */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        /** Broker port (default 5672, or 5671 with TLS). */
        public Builder port(int port) {
            this.port = port;
            return this;
        }

        /** Virtual host (default {@code /}). */
        public Builder virtualHost(String virtualHost) {
            this.virtualHost = Objects.requireNonNull(virtualHost, "virtualHost");
            return this;
        }

        /** User name and password (default guest/guest). */
        public Builder credentials(String username, String password) {
            this.username = Objects.requireNonNull(username, "username");
            this.password = Objects.requireNonNull(password, "password");
            return this;
        }

        /** TLS with the JVM's default trust store, certificate and hostname verification on. */
        public Builder tls() {
            this.tlsMode = TlsMode.VERIFIED;
            this.sslContext = null;
            return this;
        }

        /**
         * TLS with {@code context} (its trust managers decide which certificates are trusted; its key
         * managers provide a client certificate if the broker asks for one); hostname verification on.
         */
        public Builder tls(SSLContext context) {
            this.tlsMode = TlsMode.VERIFIED;
            this.sslContext = Objects.requireNonNull(context, "context");
            return this;
        }

        /**
         * TLS that trusts ANY certificate and does not verify the host name, so anyone on the network
         * path can read and change the traffic. Only for a local broker with a self-signed certificate
         * during development; a warning is logged on every connect.
         */
        public Builder insecureTrustAllForDevelopmentOnly() {
            this.tlsMode = TlsMode.INSECURE_TRUST_ALL_FOR_DEVELOPMENT_ONLY;
            this.sslContext = null;
            return this;
        }

        /** Plain TCP, no TLS (the default unless the URI was {@code amqps}). */
        public Builder noTls() {
            this.tlsMode = TlsMode.NONE;
            this.sslContext = null;
            return this;
        }

        /**
         * Client-provided connection name prefix shown in the management UI (default
         * {@value #DEFAULT_CONNECTION_NAME}); {@code -publisher} and {@code -consumer} are appended.
         */
        public Builder connectionName(String connectionName) {
            this.connectionName = Objects.requireNonNull(connectionName, "connectionName");
            return this;
        }

        /** AMQP heartbeat in whole seconds (default 20 s); zero disables heartbeats (not recommended). */
        public Builder heartbeat(Duration heartbeat) {
            this.heartbeat = Objects.requireNonNull(heartbeat, "heartbeat");
            return this;
        }

        /** TCP connect timeout (default 10 s). */
        public Builder connectionTimeout(Duration timeout) {
            this.connectionTimeout = Objects.requireNonNull(timeout, "connectionTimeout");
            return this;
        }

        /** Pause between reconnection attempts (default 1 s). */
        public Builder recoveryInterval(Duration interval) {
            this.recoveryInterval = Objects.requireNonNull(interval, "recoveryInterval");
            return this;
        }

        /** How long a publish waits for a lost connection to recover before failing (default 30 s). */
        public Builder recoveryTimeout(Duration timeout) {
            this.recoveryTimeout = Objects.requireNonNull(timeout, "recoveryTimeout");
            return this;
        }

        /**
         * How long the broker has to confirm a message, and how long a publish waits while the broker
         * blocks publishers, before the publish fails with a {@link io.courier.PublishException}
         * (default 10 s).
         */
        public Builder publishConfirmTimeout(Duration timeout) {
            this.publishConfirmTimeout = Objects.requireNonNull(timeout, "publishConfirmTimeout");
            return this;
        }

        /** Channels publishing may use at once (1 to {@value #MAX_PUBLISHER_CHANNELS}, default {@value #DEFAULT_PUBLISHER_CHANNELS}). */
        public Builder publisherChannels(int channels) {
            this.publisherChannels = channels;
            return this;
        }

        /**
         * Largest payload accepted, in bytes (1 to {@value #MAX_PAYLOAD_BYTES_LIMIT}, default 1 MiB); a
         * larger one fails with {@link io.courier.MessageTooLargeException} before anything is sent.
         * RabbitMQ itself refuses bodies over its {@code max_message_size} (128 MiB by default): such a
         * publish fails with {@link io.courier.MessageTooLargeException} too, and was not stored.
         */
        public Builder maxPayloadBytes(int maxPayloadBytes) {
            this.maxPayloadBytes = maxPayloadBytes;
            return this;
        }

        /**
         * Durable exchanges and queues and persistent messages (the default), or transient ones that
         * a broker restart loses.
         */
        public Builder durable(boolean durable) {
            this.durable = durable;
            return this;
        }

        /** The type of group queues (default {@link QueueType#CLASSIC}). */
        public Builder queueType(QueueType queueType) {
            this.queueType = Objects.requireNonNull(queueType, "queueType");
            return this;
        }

        /**
         * Adds an argument declared on every group queue, e.g. {@code x-max-length}. {@code
         * x-queue-type} is set by {@link #queueType(QueueType)} and may not be given here.
         */
        public Builder queueArgument(String name, Object value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (name.equals("x-queue-type")) {
                throw new IllegalArgumentException("set the queue type with queueType(...), not queueArgument(\"x-queue-type\", ...)");
            }
            queueArguments.put(name, value);
            return this;
        }

        /** Maps {@code topic} to {@code topology} instead of {@link TopicTopology#defaultFor(String)}. */
        public Builder topic(String topic, TopicTopology topology) {
            requireName(topic, "topic");
            topologies.put(topic, Objects.requireNonNull(topology, "topology"));
            return this;
        }

        /**
         * Declares the queues of {@code groups} on {@code topic} when the transport connects and before
         * the first publish to the topic, so they keep every message published from then on even if
         * no consumer of the group has subscribed yet. RabbitMQ only keeps what was routed to a queue
         * that existed: without this, a group's first subscription sees only messages published after it.
         */
        public Builder declareGroups(String topic, String... groups) {
            requireName(topic, "topic");
            Set<String> set = declaredGroups.computeIfAbsent(topic, t -> new LinkedHashSet<>());
            for (String g : groups) {
                requireName(g, "group");
                set.add(g);
            }
            return this;
        }

        /**
         * Turns on per-key ordering for the whole transport, with {@code partitions} partitions per topic
         * (1 to {@value #MAX_KEY_ORDERING_PARTITIONS}; off by default). The subscriber then implements
         * {@link io.courier.KeyOrderedSubscriber}: messages with the same key published by one publisher
         * to one topic are handled by a group in publish order, one at a time, whatever the concurrency.
         *
         * <p>How: the publisher routes a keyed message to partition {@link #keyPartition(String, int)}
         * (unkeyed messages round-robin over the partitions); each group has one queue per partition,
         * {@code <topic>.<group>.p<i>}, declared with {@code x-single-active-consumer}, so exactly one
         * subscription of the group consumes a partition at a time and the others stand by. Inside a
         * subscription, messages of one key run one after another; different keys run concurrently.
         *
         * <p>Every process publishing to or consuming from a key-ordered topic must use the same number
         * of partitions. Topics may only configure the exchange name (one exchange per topic) and a
         * {@code TOPIC} or {@code DIRECT} type (the transport owns routing and binding keys); {@link #build()}
         * rejects other {@link TopicTopology} settings and an {@code x-single-active-consumer} queue argument.
         */
        public Builder keyOrdering(int partitions) {
            requirePartitions(partitions);
            this.keyOrderingPartitions = partitions;
            return this;
        }

        /** Turns per-key ordering off again (the default). */
        public Builder noKeyOrdering() {
            this.keyOrderingPartitions = NO_KEY_ORDERING;
            return this;
        }

        /** Name prefix of the shared delay exchanges and queues (default {@value #DEFAULT_DELAY_PREFIX}). */
        public Builder delayPrefix(String prefix) {
            this.delayPrefix = Objects.requireNonNull(prefix, "delayPrefix");
            return this;
        }

        private static void requireName(String value, String what) {
            Objects.requireNonNull(value, what);
            if (value.isBlank()) {
                throw new IllegalArgumentException(what + " must not be blank");
            }
        }

        private static void requirePositive(Duration d, String what) {
            if (d.isZero() || d.isNegative()) {
                throw new IllegalArgumentException(what + " must be > 0, but was " + d);
            }
        }

        private void checkKeyOrderingCompatible() {
            if (queueArguments.containsKey("x-single-active-consumer")) {
                throw new IllegalArgumentException("keyOrdering(" + keyOrderingPartitions + ") declares every partition queue with "
                        + "x-single-active-consumer itself; remove queueArgument(\"x-single-active-consumer\", ...)");
            }
            Map<String, String> topicByExchange = new LinkedHashMap<>();
            topologies.forEach((topic, t) -> {
                String other = topicByExchange.putIfAbsent(t.exchange(), topic);
                if (other != null) {
                    throw new IllegalArgumentException("keyOrdering(" + keyOrderingPartitions + ") binds partition queues by partition "
                            + "routing keys, so every topic needs an exchange of its own; topics '" + other + "' and '" + topic
                            + "' share exchange '" + t.exchange() + "'");
                }
                String why = null;
                if (t.exchangeType() != ExchangeType.TOPIC && t.exchangeType() != ExchangeType.DIRECT) {
                    why = "its exchange type is " + t.exchangeType() + ", but partitions are routed by routing key (use TOPIC or DIRECT)";
                } else if (!t.bindingArguments().isEmpty()) {
                    why = "it sets binding arguments " + t.bindingArguments().keySet();
                } else if (!t.routingKey().isEmpty() && !t.routingKey().equals(topic)) {
                    why = "it sets routing key '" + t.routingKey() + "'";
                } else if (!t.bindingKeys().equals(t.exchangeType() == ExchangeType.TOPIC ? List.of("#") : List.of(t.routingKey()))) {
                    why = "it sets binding keys " + t.bindingKeys();
                }
                if (why != null) {
                    throw new IllegalArgumentException("keyOrdering(" + keyOrderingPartitions + ") routes messages to partition queues "
                            + "with routing keys of its own, so topic '" + topic + "' may only choose its exchange name and a TOPIC or "
                            + "DIRECT exchange type; " + why);
                }
            });
        }

        /** Validates and builds. */
        public RabbitMqConfig build() {
            if (host.isBlank()) {
                throw new IllegalArgumentException("host must not be blank");
            }
            if (port != null && (port < 1 || port > 65535)) {
                throw new IllegalArgumentException("port must be between 1 and 65535, but was " + port);
            }
            if (heartbeat.isNegative()) {
                throw new IllegalArgumentException("heartbeat must be >= 0, but was " + heartbeat);
            }
            if (heartbeat.toSeconds() > 65535) {
                throw new IllegalArgumentException("heartbeat must be at most 65535 s, but was " + heartbeat);
            }
            if (heartbeat.toNanos() % 1_000_000_000L != 0) {
                // AMQP negotiates whole seconds: 500 ms would silently become 0, no heartbeats at all
                throw new IllegalArgumentException("heartbeat must be a whole number of seconds, but was " + heartbeat);
            }
            if (virtualHost.isEmpty()) {
                throw new IllegalArgumentException("virtualHost must not be empty (the default virtual host is \"/\")");
            }
            if (username.isEmpty()) {
                throw new IllegalArgumentException("username must not be empty");
            }
            requireName(connectionName, "connectionName");
            if (connectionTimeout.toMillis() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("connectionTimeout must be at most " + Duration.ofMillis(Integer.MAX_VALUE)
                        + ", but was " + connectionTimeout);
            }
            requirePositive(connectionTimeout, "connectionTimeout");
            requirePositive(recoveryInterval, "recoveryInterval");
            requirePositive(recoveryTimeout, "recoveryTimeout");
            requirePositive(publishConfirmTimeout, "publishConfirmTimeout");
            if (publisherChannels < 1 || publisherChannels > MAX_PUBLISHER_CHANNELS) {
                throw new IllegalArgumentException("publisherChannels must be between 1 and " + MAX_PUBLISHER_CHANNELS
                        + " (RabbitMQ's default channel_max), but was " + publisherChannels);
            }
            if (maxPayloadBytes < 1 || maxPayloadBytes > MAX_PAYLOAD_BYTES_LIMIT) {
                throw new IllegalArgumentException("maxPayloadBytes must be between 1 and " + MAX_PAYLOAD_BYTES_LIMIT
                        + " (RabbitMQ's largest max_message_size), but was " + maxPayloadBytes);
            }
            if (queueType == QueueType.QUORUM && !durable) {
                throw new IllegalArgumentException("quorum queues are always durable: durable must be true with queueType QUORUM, but was false");
            }
            requireName(delayPrefix, "delayPrefix");
            if (delayPrefix.startsWith("amq.")) {
                throw new IllegalArgumentException("delayPrefix must not start with 'amq.', but was '" + delayPrefix + "'");
            }
            if (delayPrefix.length() > 40) {
                throw new IllegalArgumentException("delayPrefix must be at most 40 characters, but was " + delayPrefix.length());
            }
            if (keyOrderingPartitions != NO_KEY_ORDERING) {
                checkKeyOrderingCompatible();
            }
            return new RabbitMqConfig(this);
        }
    }

}
