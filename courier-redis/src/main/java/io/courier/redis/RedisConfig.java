package io.courier.redis;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Configuration of a {@link RedisStreamsTransport}: where Redis is and how to authenticate, how keys
 * are named, how streams are trimmed, and the timings of reading, reclaiming and delayed delivery.
 * Immutable and thread-safe; build one with {@link #builder()} or take {@link #defaults()}.
 *
 * <pre>{@code
 * RedisConfig config = RedisConfig.builder()
 *     .uri("rediss://redis.internal:6380/0")         // rediss = TLS
 *     .credentials("orders-service", "s3cret")       // Redis 6+ ACL user
 *     .keyPrefix("shop:")
 *     .trim("clicks", StreamTrim.maxAge(Duration.ofDays(3)))
 *     .maxDeliveries(8)
 *     .build();
 * }</pre>
 *
 * <p>Every setter validates its argument at once and throws {@link IllegalArgumentException} with a
 * message saying what was expected and what was given; {@link Builder#build()} checks the
 * combinations. The password is never printed by {@link #toString()}.
 */
public final class RedisConfig {

    /** Default server: {@value}. */
    public static final String DEFAULT_URI = "redis://127.0.0.1:6379";
    /** Default prefix of every key Courier creates: {@value}. */
    public static final String DEFAULT_KEY_PREFIX = "courier:";
    /** Default number of deliveries of one entry to one group before it is dead-lettered: {@value}. */
    public static final int DEFAULT_MAX_DELIVERIES = 10;
    /** Default {@code XREADGROUP BLOCK} time: 1 s. Bounds how long a blocked read waits. */
    public static final Duration DEFAULT_BLOCK_TIMEOUT = Duration.ofSeconds(1);
    /** Default {@code XREADGROUP COUNT}: {@value}. Reads never fetch more than the free in-flight slots. */
    public static final int DEFAULT_READ_BATCH_SIZE = 100;
    /** Default interval between two {@code XAUTOCLAIM} passes of a subscription: 2 s. */
    public static final Duration DEFAULT_CLAIM_INTERVAL = Duration.ofSeconds(2);
    /** Default {@code XAUTOCLAIM COUNT}: {@value}. */
    public static final int DEFAULT_CLAIM_BATCH_SIZE = 100;
    /** Default longest pause of the mover of due delayed messages and retries: 200 ms. */
    public static final Duration DEFAULT_SCHEDULER_INTERVAL = Duration.ofMillis(200);
    /** Default number of due messages one mover call moves: {@value}. */
    public static final int DEFAULT_MOVE_BATCH_SIZE = 200;
    /**
     * Largest {@code readBatchSize}, {@code claimBatchSize} and {@code moveBatchSize} accepted:
     * {@value}. A script or reply over that many entries holds Redis, single-threaded, for everyone.
     */
    public static final int MAX_BATCH_SIZE = 10_000;
    /** Default payload size limit: 1 MiB. */
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
    /** Default timeout of one Redis command (a blocked read included): 10 s. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(10);
    /** Default idle time after which a consumer that owns no pending entry is removed from its group: 1 h. */
    public static final Duration DEFAULT_IDLE_CONSUMER_REMOVAL = Duration.ofHours(1);

    private final String uri;
    private final String host;
    private final int port;
    private final Integer database;
    private final String username;
    private final char[] password;
    private final Boolean tls;
    private final boolean verifyPeer;
    private final Path trustStore;
    private final char[] trustStorePassword;
    private final String keyPrefix;
    private final StreamTrim defaultTrim;
    private final Map<String, StreamTrim> topicTrims;
    private final int maxDeliveries;
    private final Duration blockTimeout;
    private final int readBatchSize;
    private final Duration claimInterval;
    private final int claimBatchSize;
    private final Duration schedulerInterval;
    private final int moveBatchSize;
    private final int maxPayloadBytes;
    private final int waitReplicas;
    private final Duration waitTimeout;
    private final Duration commandTimeout;
    private final Duration idleConsumerRemoval;
    private final String clientName;
    private final boolean keyOrdering;
    private final Clock clock;

    private RedisConfig(Builder b) {
        this.uri = b.uri;
        this.host = b.host;
        this.port = b.port;
        this.database = b.database;
        this.username = b.username;
        this.password = b.password == null ? null : b.password.clone();
        this.tls = b.tls;
        this.verifyPeer = b.verifyPeer;
        this.trustStore = b.trustStore;
        this.trustStorePassword = b.trustStorePassword == null ? null : b.trustStorePassword.clone();
        this.keyPrefix = b.keyPrefix;
        this.defaultTrim = b.defaultTrim;
        this.topicTrims = Map.copyOf(b.topicTrims);
        this.maxDeliveries = b.maxDeliveries;
        this.blockTimeout = b.blockTimeout;
        this.readBatchSize = b.readBatchSize;
        this.claimInterval = b.claimInterval;
        this.claimBatchSize = b.claimBatchSize;
        this.schedulerInterval = b.schedulerInterval;
        this.moveBatchSize = b.moveBatchSize;
        this.maxPayloadBytes = b.maxPayloadBytes;
        this.waitReplicas = b.waitReplicas;
        this.waitTimeout = b.waitTimeout;
        this.commandTimeout = b.commandTimeout;
        this.idleConsumerRemoval = b.idleConsumerRemoval;
        this.clientName = b.clientName;
        this.keyOrdering = b.keyOrdering;
        this.clock = b.clock;
    }

    /** The defaults: a local Redis on port 6379, no authentication, no TLS, no trimming. */
    public static RedisConfig defaults() {
        return builder().build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these values, to derive a changed copy. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.uri = uri;
        b.host = host;
        b.port = port;
        b.database = database;
        b.username = username;
        b.password = password == null ? null : password.clone();
        b.tls = tls;
        b.verifyPeer = verifyPeer;
        b.trustStore = trustStore;
        b.trustStorePassword = trustStorePassword == null ? null : trustStorePassword.clone();
        b.keyPrefix = keyPrefix;
        b.defaultTrim = defaultTrim;
        b.topicTrims.putAll(topicTrims);
        b.maxDeliveries = maxDeliveries;
        b.blockTimeout = blockTimeout;
        b.readBatchSize = readBatchSize;
        b.claimInterval = claimInterval;
        b.claimBatchSize = claimBatchSize;
        b.schedulerInterval = schedulerInterval;
        b.moveBatchSize = moveBatchSize;
        b.maxPayloadBytes = maxPayloadBytes;
        b.waitReplicas = waitReplicas;
        b.waitTimeout = waitTimeout;
        b.commandTimeout = commandTimeout;
        b.idleConsumerRemoval = idleConsumerRemoval;
        b.clientName = clientName;
        b.keyOrdering = keyOrdering;
        b.clock = clock;
        return b;
    }

    /** The server URI ({@code redis://} or {@code rediss://} for TLS), before host/port overrides. */
    public String uri() {
        return uri;
    }

    /** The host that overrides the URI's, if set. */
    public Optional<String> host() {
        return Optional.ofNullable(host);
    }

    /** The port that overrides the URI's, if set (0 = not set). */
    public int port() {
        return port;
    }

    /** The database number that overrides the URI's, if set. */
    public Optional<Integer> database() {
        return Optional.ofNullable(database);
    }

    /** The ACL user name, if set (with no user name a password authenticates the {@code default} user). */
    public Optional<String> username() {
        return Optional.ofNullable(username);
    }

    /** A copy of the password, if set. */
    public Optional<char[]> password() {
        return Optional.ofNullable(password).map(char[]::clone);
    }

    /** Whether TLS is forced on or off; empty means "as the URI scheme says". */
    public Optional<Boolean> tls() {
        return Optional.ofNullable(tls);
    }

    /** Whether the server certificate and host name are verified under TLS (default true). */
    public boolean verifyPeer() {
        return verifyPeer;
    }

    /** The trust store (JKS or PKCS#12) for TLS, if one was set; otherwise the JDK's default trust. */
    public Optional<Path> trustStore() {
        return Optional.ofNullable(trustStore);
    }

    /** A copy of the trust store password, if set. */
    public Optional<char[]> trustStorePassword() {
        return Optional.ofNullable(trustStorePassword).map(char[]::clone);
    }

    /** Prefix of every key Courier creates (default {@value #DEFAULT_KEY_PREFIX}). */
    public String keyPrefix() {
        return keyPrefix;
    }

    /** The trimming applied to topics without their own (default none). */
    public StreamTrim defaultTrim() {
        return defaultTrim;
    }

    /** Per-topic trimming, overriding {@link #defaultTrim()}. */
    public Map<String, StreamTrim> topicTrims() {
        return topicTrims;
    }

    /** The trimming that applies to {@code topic}. */
    public StreamTrim trimFor(String topic) {
        return topicTrims.getOrDefault(topic, defaultTrim);
    }

    /**
     * Deliveries of one entry to one group before it goes to the dead-letter stream {@code <topic>.dlq}
     * (default {@value #DEFAULT_MAX_DELIVERIES}). Counts every delivery: handler failures, retries and
     * redeliveries after a consumer died. Keep it at or above a retry middleware's max attempts.
     */
    public int maxDeliveries() {
        return maxDeliveries;
    }

    /** How long one {@code XREADGROUP} blocks waiting for entries (default 1 s). */
    public Duration blockTimeout() {
        return blockTimeout;
    }

    /** Entries fetched per read at most (default {@value #DEFAULT_READ_BATCH_SIZE}). */
    public int readBatchSize() {
        return readBatchSize;
    }

    /** How often a subscription looks for entries idle longer than its lease to reclaim (default 2 s). */
    public Duration claimInterval() {
        return claimInterval;
    }

    /** Entries reclaimed per {@code XAUTOCLAIM} call at most (default {@value #DEFAULT_CLAIM_BATCH_SIZE}). */
    public int claimBatchSize() {
        return claimBatchSize;
    }

    /**
     * Longest pause of the mover that puts due delayed messages and retries onto their streams
     * (default 200 ms). The mover runs when the earliest due time it knows of comes (its own process's
     * delayed publishes and retries, and whatever its last pass saw in Redis), so this bounds only how
     * soon it sees members that another process added.
     */
    public Duration schedulerInterval() {
        return schedulerInterval;
    }

    /** Due messages moved per script call at most (default {@value #DEFAULT_MOVE_BATCH_SIZE}). */
    public int moveBatchSize() {
        return moveBatchSize;
    }

    /** Largest payload accepted, in bytes (default 1 MiB). */
    public int maxPayloadBytes() {
        return maxPayloadBytes;
    }

    /** Replicas that must acknowledge each publish through {@code WAIT} (default 0: no {@code WAIT}). */
    public int waitReplicas() {
        return waitReplicas;
    }

    /** How long {@code WAIT} waits for the replicas (meaningful when {@link #waitReplicas()} > 0). */
    public Duration waitTimeout() {
        return waitTimeout;
    }

    /** Timeout of one Redis command (default 10 s); publishes fail with it when Redis is unreachable. */
    public Duration commandTimeout() {
        return commandTimeout;
    }

    /** Consumers idle longer than this and owning no pending entry are removed from their group (default 1 h). */
    public Duration idleConsumerRemoval() {
        return idleConsumerRemoval;
    }

    /** The connection name shown by {@code CLIENT LIST} (default {@code courier}). */
    public String clientName() {
        return clientName;
    }

    /**
     * Whether the transport's subscriber keeps per-key order (default false): when true it is a
     * {@link io.courier.KeyOrderedSubscriber}. See {@link Builder#keyOrdering(boolean)}.
     */
    public boolean keyOrdering() {
        return keyOrdering;
    }

    /** The clock that dates delayed deliveries and retries (default: system UTC). */
    public Clock clock() {
        return clock;
    }

    @Override
    public String toString() {
        return "RedisConfig{uri=" + redactedUri() + (host != null ? ", host=" + host : "") + (port != 0 ? ", port=" + port : "")
                + (database != null ? ", database=" + database : "") + (username != null ? ", username=" + username : "")
                + (password != null ? ", password=***" : "") + (tls != null ? ", tls=" + tls : "") + ", verifyPeer=" + verifyPeer
                + ", keyPrefix=" + keyPrefix + ", defaultTrim=" + defaultTrim + ", topicTrims=" + topicTrims
                + ", maxDeliveries=" + maxDeliveries + ", blockTimeout=" + blockTimeout + ", readBatchSize=" + readBatchSize
                + ", claimInterval=" + claimInterval + ", claimBatchSize=" + claimBatchSize + ", schedulerInterval="
                + schedulerInterval + ", maxPayloadBytes=" + maxPayloadBytes + ", waitReplicas=" + waitReplicas
                + ", commandTimeout=" + commandTimeout + ", idleConsumerRemoval=" + idleConsumerRemoval
                + ", keyOrdering=" + keyOrdering + '}';
    }

    private String redactedUri() {
        // redis://user:pass@host -> redis://user:***@host
        return uri.replaceAll("(//[^:/@]*:)[^@/]*@", "$1***@");
    }

    /** Builds a {@link RedisConfig}. Not thread-safe. */
    public static final class Builder {
        private String uri = DEFAULT_URI;
        private String host;
        private int port;
        private Integer database;
        private String username;
        private char[] password;
        private Boolean tls;
        private boolean verifyPeer = true;
        private Path trustStore;
        private char[] trustStorePassword;
        private String keyPrefix = DEFAULT_KEY_PREFIX;
        private StreamTrim defaultTrim = StreamTrim.none();
        private final Map<String, StreamTrim> topicTrims = new LinkedHashMap<>();
        private int maxDeliveries = DEFAULT_MAX_DELIVERIES;
        private Duration blockTimeout = DEFAULT_BLOCK_TIMEOUT;
        private int readBatchSize = DEFAULT_READ_BATCH_SIZE;
        private Duration claimInterval = DEFAULT_CLAIM_INTERVAL;
        private int claimBatchSize = DEFAULT_CLAIM_BATCH_SIZE;
        private Duration schedulerInterval = DEFAULT_SCHEDULER_INTERVAL;
        private int moveBatchSize = DEFAULT_MOVE_BATCH_SIZE;
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private int waitReplicas;
        private Duration waitTimeout = Duration.ofSeconds(1);
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private Duration idleConsumerRemoval = DEFAULT_IDLE_CONSUMER_REMOVAL;
        private String clientName = "courier";
        private boolean keyOrdering;
        private Clock clock = Clock.systemUTC();

        private Builder() {
        }

        /**
         * The server URI, e.g. {@code redis://host:6379/0}, {@code rediss://host:6380} (TLS) or
         * {@code redis://user:password@host:6379}. Default {@value #DEFAULT_URI}.
         */
        public Builder uri(String uri) {
            Objects.requireNonNull(uri, "uri");
            if (!uri.startsWith("redis://") && !uri.startsWith("rediss://") && !uri.startsWith("redis-sentinel://")) {
                throw new IllegalArgumentException("uri must start with redis://, rediss:// or redis-sentinel://, but was '"
                        + uri.replaceAll("(//[^:/@]*:)[^@/]*@", "$1***@") + "'");
            }
            this.uri = uri;
            return this;
        }

        /** Overrides the URI's host. */
        public Builder host(String host) {
            Objects.requireNonNull(host, "host");
            if (host.isBlank()) {
                throw new IllegalArgumentException("host must not be blank");
            }
            this.host = host;
            return this;
        }

        /** Overrides the URI's port (1..65535). */
        public Builder port(int port) {
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port must be in 1..65535, but was " + port);
            }
            this.port = port;
            return this;
        }

        /** Overrides the URI's database number (>= 0). */
        public Builder database(int database) {
            if (database < 0) {
                throw new IllegalArgumentException("database must be >= 0, but was " + database);
            }
            this.database = database;
            return this;
        }

        /** Authenticates as ACL user {@code username} with {@code password} (Redis 6+). */
        public Builder credentials(String username, String password) {
            Objects.requireNonNull(username, "username");
            Objects.requireNonNull(password, "password");
            if (username.isBlank()) {
                throw new IllegalArgumentException("username must not be blank");
            }
            this.username = username;
            this.password = password.toCharArray();
            return this;
        }

        /** Authenticates the {@code default} user with {@code password} ({@code requirepass}). */
        public Builder password(String password) {
            Objects.requireNonNull(password, "password");
            this.username = null;
            this.password = password.toCharArray();
            return this;
        }

        /** Forces TLS on or off; by default the URI scheme decides ({@code rediss://} = TLS). */
        public Builder tls(boolean tls) {
            this.tls = tls;
            return this;
        }

        /** Whether to verify the server's certificate and host name under TLS (default true). */
        public Builder verifyPeer(boolean verifyPeer) {
            this.verifyPeer = verifyPeer;
            return this;
        }

        /** Trusts the certificates in {@code trustStore} (JKS or PKCS#12) instead of the JDK's defaults. */
        public Builder trustStore(Path trustStore, String password) {
            Objects.requireNonNull(trustStore, "trustStore");
            this.trustStore = trustStore;
            this.trustStorePassword = password == null ? null : password.toCharArray();
            return this;
        }

        /**
         * Prefix of every key Courier creates (default {@value #DEFAULT_KEY_PREFIX}); lets several
         * applications or tests share one database. Must not contain braces.
         */
        public Builder keyPrefix(String keyPrefix) {
            Objects.requireNonNull(keyPrefix, "keyPrefix");
            if (keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0) {
                throw new IllegalArgumentException("keyPrefix must not contain '{' or '}', but was '" + keyPrefix + "'");
            }
            this.keyPrefix = keyPrefix;
            return this;
        }

        /** Trimming for topics without their own (default {@link StreamTrim#none()}). */
        public Builder defaultTrim(StreamTrim trim) {
            this.defaultTrim = Objects.requireNonNull(trim, "trim");
            return this;
        }

        /** Trimming for one topic, overriding the default. */
        public Builder trim(String topic, StreamTrim trim) {
            Objects.requireNonNull(topic, "topic");
            Objects.requireNonNull(trim, "trim");
            if (topic.isBlank()) {
                throw new IllegalArgumentException("topic must not be blank");
            }
            topicTrims.put(topic, trim);
            return this;
        }

        /** Deliveries per entry and group before dead-lettering (>= 1, default {@value #DEFAULT_MAX_DELIVERIES}). */
        public Builder maxDeliveries(int maxDeliveries) {
            if (maxDeliveries < 1) {
                throw new IllegalArgumentException("maxDeliveries must be >= 1, but was " + maxDeliveries);
            }
            this.maxDeliveries = maxDeliveries;
            return this;
        }

        /** {@code XREADGROUP BLOCK} time (10 ms .. 60 s, default 1 s); must stay below the command timeout. */
        public Builder blockTimeout(Duration blockTimeout) {
            requireBetween(blockTimeout, Duration.ofMillis(10), Duration.ofSeconds(60), "blockTimeout");
            this.blockTimeout = blockTimeout;
            return this;
        }

        /** Entries per read at most (1 .. {@value #MAX_BATCH_SIZE}, default {@value #DEFAULT_READ_BATCH_SIZE}). */
        public Builder readBatchSize(int readBatchSize) {
            this.readBatchSize = requireBatchSize(readBatchSize, "readBatchSize");
            return this;
        }

        /** Interval between reclaim passes (10 ms .. 1 h, default 2 s). */
        public Builder claimInterval(Duration claimInterval) {
            requireBetween(claimInterval, Duration.ofMillis(10), Duration.ofHours(1), "claimInterval");
            this.claimInterval = claimInterval;
            return this;
        }

        /** Entries per {@code XAUTOCLAIM} at most (1 .. {@value #MAX_BATCH_SIZE}, default {@value #DEFAULT_CLAIM_BATCH_SIZE}). */
        public Builder claimBatchSize(int claimBatchSize) {
            this.claimBatchSize = requireBatchSize(claimBatchSize, "claimBatchSize");
            return this;
        }

        /**
         * Longest pause of the delayed-delivery and retry mover (10 ms .. 1 min, default 200 ms); see
         * {@link RedisConfig#schedulerInterval()}.
         */
        public Builder schedulerInterval(Duration schedulerInterval) {
            requireBetween(schedulerInterval, Duration.ofMillis(10), Duration.ofMinutes(1), "schedulerInterval");
            this.schedulerInterval = schedulerInterval;
            return this;
        }

        /** Due messages moved per script call at most (1 .. {@value #MAX_BATCH_SIZE}, default {@value #DEFAULT_MOVE_BATCH_SIZE}). */
        public Builder moveBatchSize(int moveBatchSize) {
            this.moveBatchSize = requireBatchSize(moveBatchSize, "moveBatchSize");
            return this;
        }

        /** Largest payload accepted (1 byte .. 512 MiB, default 1 MiB). */
        public Builder maxPayloadBytes(int maxPayloadBytes) {
            if (maxPayloadBytes < 1 || maxPayloadBytes > 512 * 1024 * 1024) {
                throw new IllegalArgumentException("maxPayloadBytes must be in 1..536870912, but was " + maxPayloadBytes);
            }
            this.maxPayloadBytes = maxPayloadBytes;
            return this;
        }

        /**
         * After each publish, runs {@code WAIT replicas timeout}: the publish succeeds only once that many
         * replicas acknowledged it. {@code replicas = 0} turns it off (the default).
         */
        public Builder waitForReplicas(int replicas, Duration timeout) {
            if (replicas < 0) {
                throw new IllegalArgumentException("replicas must be >= 0, but was " + replicas);
            }
            requireBetween(timeout, Duration.ofMillis(1), Duration.ofMinutes(10), "waitTimeout");
            this.waitReplicas = replicas;
            this.waitTimeout = timeout;
            return this;
        }

        /** Timeout of one command (100 ms .. 10 min, default 10 s). */
        public Builder commandTimeout(Duration commandTimeout) {
            requireBetween(commandTimeout, Duration.ofMillis(100), Duration.ofMinutes(10), "commandTimeout");
            this.commandTimeout = commandTimeout;
            return this;
        }

        /** Idle time after which consumers owning no pending entry are removed (1 ms .. 30 days, default 1 h). */
        public Builder idleConsumerRemoval(Duration idle) {
            requireBetween(idle, Duration.ofMillis(1), Duration.ofDays(30), "idleConsumerRemoval");
            this.idleConsumerRemoval = idle;
            return this;
        }

        /** Connection name shown by {@code CLIENT LIST} (no spaces; default {@code courier}). */
        public Builder clientName(String clientName) {
            Objects.requireNonNull(clientName, "clientName");
            if (clientName.isBlank() || clientName.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("clientName must be non-blank without spaces, but was '" + clientName + "'");
            }
            this.clientName = clientName;
            return this;
        }

        /**
         * Per-key ordering for every subscription of the transport (default false). When true the
         * subscriber is a {@link io.courier.KeyOrderedSubscriber}: messages with the same key
         * published by one publisher to one topic are handled by a group in publish order, one at a
         * time, even with {@code concurrency > 1} and across several consumers of the group (in this
         * or other processes, which must turn it on too). Retries scheduled with
         * {@link io.courier.Delivery#retryAfter} may reorder; a handler failure keeps the message's
         * place (it is handled again, in place, after the failure redelivery delay).
         *
         * <p>It costs a Lua script per read and per settlement, a Redis list per key with unsettled
         * entries, and waiting: an entry whose key's earlier entry is held by another consumer waits
         * (occupying an in-flight slot) until that one is settled. Messages without a key are not
         * ordered and cost only the scripted read. Redis Cluster is not supported in this mode. See
         * {@code docs/transports/redis.md}, "Per-key ordering".
         */
        public Builder keyOrdering(boolean keyOrdering) {
            this.keyOrdering = keyOrdering;
            return this;
        }

        /** The clock dating delayed deliveries and retries (default system UTC). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Checks the combinations and builds. */
        public RedisConfig build() {
            if (blockTimeout.compareTo(commandTimeout) >= 0) {
                throw new IllegalArgumentException("blockTimeout must be < commandTimeout (" + commandTimeout + "), but was " + blockTimeout);
            }
            if (waitReplicas > 0 && waitTimeout.compareTo(commandTimeout) >= 0) {
                throw new IllegalArgumentException("waitTimeout must be < commandTimeout (" + commandTimeout + "), but was " + waitTimeout);
            }
            return new RedisConfig(this);
        }

        private static int requireBatchSize(int value, String what) {
            if (value < 1 || value > MAX_BATCH_SIZE) {
                throw new IllegalArgumentException(what + " must be in 1.." + MAX_BATCH_SIZE + ", but was " + value);
            }
            return value;
        }

        private static void requireBetween(Duration d, Duration min, Duration max, String what) {
            Objects.requireNonNull(d, what);
            if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                throw new IllegalArgumentException(what + " must be between " + min + " and " + max + ", but was " + d);
            }
        }
    }
}
