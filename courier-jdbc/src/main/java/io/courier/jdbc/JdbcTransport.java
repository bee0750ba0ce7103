package io.courier.jdbc;

import io.courier.DelayedPublisher;
import io.courier.Handler;
import io.courier.KeyOrderedSubscriber;
import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.StartPosition;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TransportClosedException;
import io.courier.jdbc.internal.ClaimedRow;
import io.courier.jdbc.internal.Cleaner;
import io.courier.jdbc.internal.Database;
import io.courier.jdbc.internal.IdempotencyKeys;
import io.courier.jdbc.internal.JdbcSource;
import io.courier.jdbc.internal.MessageStore;
import io.courier.jdbc.internal.OutgoingMessage;
import io.courier.jdbc.internal.PgListener;
import io.courier.jdbc.internal.PostgresDialect;
import io.courier.jdbc.internal.PublishWriter;
import io.courier.jdbc.internal.SqlDialect;
import io.courier.jdbc.internal.SqlErrors;
import io.courier.jdbc.internal.SqliteDialect;
import io.courier.jdbc.internal.Tables;
import io.courier.jdbc.internal.Wakeups;
import io.courier.spi.Payloads;
import io.courier.spi.Settings;
import io.courier.spi.SubscriptionChecks;
import io.courier.spi.engine.ConsumerEngine;
import io.courier.spi.engine.EngineTuning;
import io.courier.sql.DatabaseKind;
import io.courier.sql.Migrator;
import io.courier.sql.SqlPool;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;

/**
 * The SQL transport: messages, consumer groups and deliveries in database tables. An embedded
 * SQLite file is the zero-setup default; PostgreSQL serves several processes on several machines.
 *
 * <pre>{@code
 * try (JdbcTransport transport = JdbcTransport.sqlite(Path.of("data/courier.db")).build()) {
 *     transport.subscriber().subscribe("greetings", "printer",
 *             d -> System.out.println(d.message().payloadAsText()));
 *     transport.publisher().publish("greetings", Message.ofText("hello")).join();
 * }
 *
 * JdbcTransport pg = JdbcTransport.postgres("jdbc:postgresql://db:5432/app", "app", secret)
 *         .tablePrefix("courier_")
 *         .build();
 * }</pre>
 *
 * <p><b>Guarantees.</b> A publish future completes once the message's transaction committed
 * (SQLite runs in WAL mode with {@code synchronous=NORMAL}: a commit survives a process crash, and
 * the last commits before a power loss may be lost; PostgreSQL follows its own {@code synchronous_commit}).
 * Every consumer group receives every message published after it was created, and a group created
 * with {@link io.courier.StartPosition#EARLIEST} also every message still retained. Delivery is
 * at-least-once with leases: a claimed message that is neither acknowledged nor rescheduled within
 * the subscription's lease timeout (a consumer that died, or a handler that overran its lease) is
 * delivered again, its attempt counted. Delayed messages become visible at their delivery time
 * without holding back others. Messages with the same key are handled one at a time in publish order
 * (see {@link #subscriber()}).
 *
 * <p><b>Sharing.</b> Several transports, in one process or several, may use the same database and
 * table prefix at the same time: that is how consumers of one group compete. For SQLite they must
 * be on one machine (the file must not be on a network file system).
 *
 * <p>{@link #publisher()} batches concurrent publishes into one transaction (group commit);
 * {@link #transactionalPublisher()} writes inside the caller's transaction (the outbox);
 * {@link JdbcIdempotentHandler} claims messages inside the handler's transaction. The schema is
 * created and upgraded by {@link Builder#build()}. Thread-safe. See {@code docs/transports/jdbc.md}.
 */
public final class JdbcTransport implements Transport {

    /** Default table name prefix: tables are {@code courier_messages}, {@code courier_deliveries}, .... */
    public static final String DEFAULT_TABLE_PREFIX = "courier_";
    /** Default payload size limit: 1 MiB. */
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
    /**
     * The largest payload size limit that may be configured: 16 MiB. PostgreSQL takes at most 1 GB in
     * one protocol message, and the transport stores up to 50 messages per statement (800 MiB at this
     * limit); a claim reads up to {@code claimBatchSize} payloads at once into memory.
     */
    public static final int MAX_PAYLOAD_BYTES_LIMIT = 16 * 1024 * 1024;
    /** Default longest wait of an idle SQLite consumer between two looks (other processes' messages). */
    public static final Duration DEFAULT_SQLITE_POLL_INTERVAL = Duration.ofMillis(100);
    /** Default longest wait of an idle PostgreSQL consumer (LISTEN/NOTIFY wakes it sooner). */
    public static final Duration DEFAULT_POSTGRES_POLL_INTERVAL = Duration.ofSeconds(1);
    /** Default number of deliveries claimed per transaction, at most. */
    public static final int DEFAULT_CLAIM_BATCH_SIZE = 100;
    /** Default number of settlements (acks, retries) written per transaction without a claim. */
    public static final int DEFAULT_ACK_BATCH_SIZE = 100;
    /** Default number of published messages stored per transaction, at most. */
    public static final int DEFAULT_PUBLISH_BATCH_SIZE = 500;
    /** Default number of publish calls waiting to be written before callers wait. */
    public static final int DEFAULT_MAX_PENDING_PUBLISHES = 10_000;
    /** Default time a message every group has handled is kept (for new EARLIEST groups, inspection). */
    public static final Duration DEFAULT_RETENTION = Duration.ofHours(1);
    /** Default time between two cleanup rounds. */
    public static final Duration DEFAULT_CLEANUP_INTERVAL = Duration.ofSeconds(30);
    /** Default time an idempotency claim of {@link JdbcIdempotentHandler} is kept. */
    public static final Duration DEFAULT_IDEMPOTENCY_RETENTION = Duration.ofDays(7);
    /** Default time to wait for a connection (and for room in the publish queue). */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Default time a SQLite writer waits for another process's write lock. */
    public static final Duration DEFAULT_BUSY_TIMEOUT = Duration.ofSeconds(5);
    /** Default size of the connection pool. */
    public static final int DEFAULT_MAX_POOL_SIZE = 10;
    /** Longest {@link Builder#retention} and {@link Builder#idempotencyRetention}: 3,650 days. */
    public static final Duration MAX_RETENTION = Duration.ofDays(3650);
    /** Longest a settlement waits to be written with others (with the next claim, or alone). */
    private static final Duration SETTLE_LINGER = Duration.ofMillis(5);

    private final SqlDialect dialect;
    private final String target;
    private final Database db;
    private final MessageStore store;
    private final IdempotencyKeys idempotencyKeys;
    private final SqlPool pool;
    private final Clock clock;
    private final int maxPayloadBytes;
    private final Wakeups wakeups = new Wakeups();
    private final PublishWriter writer;
    private final PgListener listener;
    private final Cleaner cleaner;
    private final Duration pollInterval;
    private final EngineTuning tuning;
    private final Set<ConsumerEngine<ClaimedRow>> subscriptions = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Publisher publisher = new Publisher();
    private final KeyOrderedSubscriber subscriber = this::subscribe;
    private final JdbcPublisher transactionalPublisher = new TransactionalPublisher();

    private JdbcTransport(Builder b, Builder.Opened opened) {
        this.dialect = opened.db().dialect();
        this.target = opened.db().target();
        this.pool = opened.pool();
        this.clock = b.clock;
        this.maxPayloadBytes = b.maxPayloadBytes;
        this.db = opened.db();
        Tables tables = db.tables();
        boolean sqlite = dialect.kind() == DatabaseKind.SQLITE;
        this.store = new MessageStore(dialect, tables);
        this.idempotencyKeys = new IdempotencyKeys(dialect, tables);
        Duration poll = b.pollInterval != null ? b.pollInterval
                : sqlite ? DEFAULT_SQLITE_POLL_INTERVAL : DEFAULT_POSTGRES_POLL_INTERVAL;
        this.pollInterval = poll;
        // settlements linger 5 ms and go with the next claim; claims run in parallel where the database can
        this.tuning = EngineTuning.defaults()
                .withFetchBatch(b.claimBatchSize)
                .withSettleBatch(b.ackBatchSize)
                .withSettleLinger(SETTLE_LINGER)
                .withMaxWait(poll)
                .withFetchers(dialect.claimLanes());
        int threads = b.publishThreads != null ? b.publishThreads : sqlite ? 1 : 2;
        this.writer = new PublishWriter(db, store, clock, b.publishBatchSize, b.maxPendingPublishes, b.connectTimeout,
                threads, topics -> topics.forEach(wakeups::signal), target);
        this.listener = sqlite ? null : new PgListener(db, wakeups);
        this.cleaner = new Cleaner(db, store, idempotencyKeys, clock, b.retention, b.idempotencyRetention, b.cleanupInterval);
    }

    /**
     * A builder for an embedded SQLite database in {@code file}. The file and its parent directories
     * are created on first use; the database runs in WAL mode with {@code synchronous=NORMAL} and a
     * busy timeout, so several processes on one machine may share it.
     *
     * @throws io.courier.MissingDependencyException when sqlite-jdbc ({@code org.xerial:sqlite-jdbc}, a
     *                                               regular dependency of this module) was excluded
     */
    public static Builder sqlite(Path file) {
        Objects.requireNonNull(file, "file");
        DatabaseKind.SQLITE.requireDriver(JdbcTransport.class, "JdbcTransport.sqlite");
        return new Builder(Builder.Kind.SQLITE, file, null, null, null, null);
    }

    /**
     * A builder for PostgreSQL at {@code jdbcUrl} (e.g. {@code jdbc:postgresql://host:5432/db}), with a
     * HikariCP pool the transport owns and closes. Needs the PostgreSQL driver
     * ({@code org.postgresql:postgresql}), an optional dependency of this module that the application adds.
     *
     * @throws io.courier.MissingDependencyException when the PostgreSQL driver is not on the classpath
     */
    public static Builder postgres(String jdbcUrl, String user, String password) {
        Objects.requireNonNull(jdbcUrl, "jdbcUrl");
        if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("jdbcUrl must start with 'jdbc:postgresql:', but was '" + jdbcUrl + "'");
        }
        requirePostgresDriver();
        return new Builder(Builder.Kind.POSTGRES, null, jdbcUrl, user, password, null);
    }

    /**
     * A builder for PostgreSQL through {@code dataSource}, which should be a pool (HikariCP, say). The
     * transport does not close it; one of its connections is held for LISTEN while the transport is open.
     *
     * @throws io.courier.MissingDependencyException when the PostgreSQL driver is not on the classpath
     */
    public static Builder postgres(DataSource dataSource) {
        Objects.requireNonNull(dataSource, "dataSource");
        requirePostgresDriver();
        return new Builder(Builder.Kind.POSTGRES, null, null, null, null, dataSource);
    }

    private static void requirePostgresDriver() {
        DatabaseKind.POSTGRESQL.requireDriver(JdbcTransport.class, "JdbcTransport.postgres");
    }

    /** {@code sqlite} or {@code postgresql}. */
    @Override
    public String name() {
        return dialect.name();
    }

    /** The publisher; supports delayed delivery. Each call's messages are stored in one transaction. */
    @Override
    public DelayedPublisher publisher() {
        return publisher;
    }

    /**
     * The subscriber. It keeps per-key order: of the messages with one key, a group has at most one
     * in flight (across all its consumers) and handles them in publish order; an earlier message that
     * failed or was delayed holds back the later ones of its key until it is handled. Messages without
     * a key are not held back. So it accepts {@link io.courier.MessageOrdering#KEY}. It understands no
     * {@linkplain io.courier.TransportOption transport options}: a subscription carrying one fails with
     * an {@link IllegalArgumentException}.
     */
    @Override
    public KeyOrderedSubscriber subscriber() {
        return subscriber;
    }

    /** The publisher that writes inside the caller's transaction (the outbox). */
    public JdbcPublisher transactionalPublisher() {
        return transactionalPublisher;
    }

    /**
     * Connections to the transport's database, for the caller's own tables and transactions (see
     * {@link JdbcPublisher}). Pooled; close each connection after use. Valid until {@link #close()}.
     */
    public DataSource dataSource() {
        return db.dataSource();
    }

    /** The prefix of the transport's table names. */
    public String tablePrefix() {
        return db.tables().prefix();
    }

    /**
     * Runs one cleanup round now (it also runs every cleanup interval): deletes messages every group
     * has handled that are older than the retention, expired claims of {@link JdbcIdempotentHandler}
     * and expired keys of {@link JdbcIdempotencyStore}.
     *
     * @return the number of messages deleted
     * @throws JdbcTransportException when the database fails
     */
    public int cleanup() {
        ensureOpen();
        try {
            return cleaner.runOnce();
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("cleaning up", target, e);
        }
    }

    /**
     * Creates consumer group {@code group} of {@code topic} now, without subscribing, so that every
     * message published from now on is kept for it until the group acknowledges it, whether or not
     * a consumer is running (the retention only removes messages that every group has handled). A
     * new group starting at {@link StartPosition#EARLIEST} also gets every message of the topic still
     * stored. Does nothing when the group exists. This is what a reader deployed later, or the
     * outbox's relay, relies on.
     *
     * @throws JdbcTransportException when the database fails
     */
    public void declareGroup(String topic, String group, StartPosition start) {
        SubscriptionOptions checked = SubscriptionOptions.builder(topic, group).startPosition(start).build();
        ensureOpen();
        try {
            groupId(checked);
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("declaring group '" + group + "' of topic '" + topic + "'", target, e);
        }
    }

    /**
     * How far behind {@code group} of {@code topic} is: pending, ready and in-flight counts and the
     * age of the oldest unacknowledged message (see {@link GroupBacklog#lag()}). Reads the group's
     * delivery rows once, so it costs about a millisecond per 10,000 pending messages.
     *
     * @return the figures, or empty when the group does not exist
     * @throws JdbcTransportException when the database fails
     */
    public Optional<GroupBacklog> backlog(String topic, String group) {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(group, "group");
        ensureOpen();
        try {
            return db.read(c -> {
                OptionalLong id = store.findGroup(c, topic, group);
                if (id.isEmpty()) {
                    return Optional.<GroupBacklog>empty();
                }
                long now = clock.millis();
                long[] b = store.backlog(c, id.getAsLong(), now);
                Optional<Instant> oldest = b[3] < 0 ? Optional.empty()
                        : Optional.of(Instant.ofEpochMilli(Math.max(b[3], b[4])));
                return Optional.of(new GroupBacklog(topic, group, b[0], b[1], b[2], oldest, Instant.ofEpochMilli(now)));
            });
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("reading the backlog of group '" + group + "' of topic '" + topic + "'", target, e);
        }
    }

    private long groupId(SubscriptionOptions options) throws SQLException {
        OptionalLong existing = db.read(c -> store.findGroup(c, options.topic(), options.group()));
        return existing.isPresent() ? existing.getAsLong()
                : db.inTransaction(c -> store.registerGroup(c, options.topic(), options.group(),
                        options.startPosition(), clock.millis()));
    }

    /** The database access shared with {@link JdbcIdempotentHandler}. */
    Database database() {
        return db;
    }

    /** The SQL shared with {@link JdbcIdempotentHandler}. */
    MessageStore store() {
        return store;
    }

    /** The SQL of the idempotency store's table, shared with {@link JdbcIdempotencyStore}. */
    IdempotencyKeys idempotencyKeys() {
        return idempotencyKeys;
    }

    /** The database as named in error messages. */
    String target() {
        return target;
    }

    /** Fails with {@link TransportClosedException} once the transport is closed. */
    void checkOpen() {
        ensureOpen();
    }

    /** The clock the transport stamps messages, leases and delays with (the builder's, or the system clock). */
    public Clock clock() {
        return clock;
    }

    private Subscription subscribe(SubscriptionOptions options, Handler handler) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(handler, "handler");
        // every subscription keeps per-key order, so MessageOrdering.KEY needs nothing; no transport options exist
        SubscriptionChecks.requireUnderstoodOptions(options, name());
        ensureOpen();
        long groupId;
        try {
            groupId = groupId(options);
        } catch (SQLException | RuntimeException e) {
            throw SqlErrors.translate("subscribing group '" + options.group() + "' to topic '" + options.topic() + "'",
                    target, e);
        }
        JdbcSource source = new JdbcSource(db, store, groupId, options.topic(), clock, options.leaseTimeout(),
                pollInterval, wakeups);
        ConsumerEngine<ClaimedRow> s = ConsumerEngine.builder(options, handler, source)
                .name("courier-" + dialect.name() + "-" + options.topic() + "-" + options.group())
                .clock(clock)
                .tuning(tuning)
                .onClosed(subscriptions::remove)
                .build();
        subscriptions.add(s);
        return s.start();
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new TransportClosedException("the " + dialect.name() + " transport (" + target + ") is closed");
        }
    }

    /**
     * Closes every subscription gracefully, writes publishes already accepted, stops the listener
     * and the cleaner, and closes the connection pool if the transport created it. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        List<ConsumerEngine<ClaimedRow>> open = new ArrayList<>(subscriptions);
        open.parallelStream().forEach(ConsumerEngine::close);
        writer.close(Duration.ofSeconds(30));
        if (listener != null) {
            listener.close();
        }
        cleaner.close();
        pool.close();
    }

    @Override
    public String toString() {
        return "JdbcTransport{" + target + ", tables=" + tablePrefix() + "*}";
    }

    private List<OutgoingMessage> outgoing(String topic, List<Message> messages, Instant deliverAt) {
        Payloads.checkTopic(topic);
        Objects.requireNonNull(messages, "messages");
        ensureOpen();
        long at = deliverAt == null ? clock.millis() : ceilMillis(deliverAt);
        List<OutgoingMessage> out = new ArrayList<>(messages.size());
        for (Message m : messages) {
            Objects.requireNonNull(m, "message");
            Payloads.checkSize(topic, m, maxPayloadBytes);
            out.add(OutgoingMessage.of(m, at));
        }
        return out;
    }

    private static long ceilMillis(Instant t) {
        long ms = t.toEpochMilli();
        return t.getNano() % 1_000_000 == 0 ? ms : ms + 1;
    }

    private final class Publisher implements DelayedPublisher {

        @Override
        public CompletableFuture<PublishResult> publish(String topic, Message message) {
            return publishAt(topic, message, null);
        }

        @Override
        public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
            Objects.requireNonNull(message, "message");
            CompletableFuture<List<PublishResult>> future = new CompletableFuture<>();
            writer.submit(new PublishWriter.Request(topic, outgoing(topic, List.of(message), deliverAt), future));
            return future.thenApply(results -> results.get(0));
        }

        /** Stores all messages in one transaction: all are published, or none (the batch is atomic). */
        @Override
        public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
            List<OutgoingMessage> out = outgoing(topic, messages, null);
            if (out.isEmpty()) {
                return CompletableFuture.completedFuture(List.of());
            }
            CompletableFuture<List<PublishResult>> future = new CompletableFuture<>();
            writer.submit(new PublishWriter.Request(topic, out, future));
            return future;
        }
    }

    private final class TransactionalPublisher implements JdbcPublisher {

        @Override
        public PublishResult publish(Connection transaction, String topic, Message message) {
            return publishAt(transaction, topic, message, null);
        }

        @Override
        public PublishResult publishAt(Connection transaction, String topic, Message message, Instant deliverAt) {
            Objects.requireNonNull(message, "message");
            return write(transaction, topic, outgoing(topic, List.of(message), deliverAt)).get(0);
        }

        @Override
        public List<PublishResult> publishAll(Connection transaction, String topic, List<Message> messages) {
            return write(transaction, topic, outgoing(topic, messages, null));
        }

        private List<PublishResult> write(Connection tx, String topic, List<OutgoingMessage> messages) {
            Objects.requireNonNull(tx, "transaction");
            if (messages.isEmpty()) {
                return List.of();
            }
            try {
                boolean autoCommit = tx.getAutoCommit();
                long[] ids;
                if (autoCommit) {
                    tx.setAutoCommit(false);
                }
                try {
                    ids = store.publish(tx, topic, messages, clock.millis());
                    if (autoCommit) {
                        tx.commit();
                    }
                } catch (SQLException | RuntimeException e) {
                    if (autoCommit) {
                        tx.rollback();
                    }
                    throw e;
                } finally {
                    if (autoCommit) {
                        tx.setAutoCommit(true);
                    }
                }
                // Local consumers look now; if the caller commits later, they find it at their next look.
                wakeups.signal(topic);
                List<PublishResult> results = new ArrayList<>(ids.length);
                for (int i = 0; i < ids.length; i++) {
                    results.add(PublishResult.of(messages.get(i).message().id(), topic, Long.toString(ids[i])));
                }
                return results;
            } catch (SQLException e) {
                throw new PublishException(topic, SqlErrors.translate("publishing " + messages.size()
                        + " message(s) to topic '" + topic + "' in the caller's transaction", target, e).getMessage(), e);
            }
        }
    }

    /**
     * Configures a {@link JdbcTransport}. Every setter validates its argument and says what it expected;
     * {@link #build()} may be called more than once (each call opens a new transport over the same
     * database). Not thread-safe.
     */
    public static final class Builder {

        private enum Kind { SQLITE, POSTGRES }

        private final Kind kind;
        private final Path file;
        private final String jdbcUrl;
        private final String user;
        private final String password;
        private final DataSource dataSource;
        private String tablePrefix = DEFAULT_TABLE_PREFIX;
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private Duration pollInterval;
        private int claimBatchSize = DEFAULT_CLAIM_BATCH_SIZE;
        private int ackBatchSize = DEFAULT_ACK_BATCH_SIZE;
        private int publishBatchSize = DEFAULT_PUBLISH_BATCH_SIZE;
        private int maxPendingPublishes = DEFAULT_MAX_PENDING_PUBLISHES;
        private Integer publishThreads;
        private Duration retention = DEFAULT_RETENTION;
        private Duration cleanupInterval = DEFAULT_CLEANUP_INTERVAL;
        private Duration idempotencyRetention = DEFAULT_IDEMPOTENCY_RETENTION;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private Duration busyTimeout = DEFAULT_BUSY_TIMEOUT;
        private int maxPoolSize = DEFAULT_MAX_POOL_SIZE;
        private Clock clock = Clock.systemUTC();

        private Builder(Kind kind, Path file, String jdbcUrl, String user, String password, DataSource dataSource) {
            this.kind = kind;
            this.file = file;
            this.jdbcUrl = jdbcUrl;
            this.user = user;
            this.password = password;
            this.dataSource = dataSource;
        }

        /**
         * Prefix of every table name (default {@value #DEFAULT_TABLE_PREFIX}): lower-case letters, digits
         * and underscores, at most 40 characters. Transports with different prefixes in one database
         * are fully separate.
         */
        public Builder tablePrefix(String tablePrefix) {
            this.tablePrefix = new Tables(tablePrefix).prefix();
            return this;
        }

        /**
         * Largest payload accepted, in bytes: 1 .. {@value #MAX_PAYLOAD_BYTES_LIMIT} (16 MiB), default
         * 1 MiB; larger ones fail with MessageTooLargeException. With large payloads lower
         * {@link #claimBatchSize} too: a claim holds that many payloads in memory at once.
         */
        public Builder maxPayloadBytes(int maxPayloadBytes) {
            this.maxPayloadBytes = Settings.between(maxPayloadBytes, 1, MAX_PAYLOAD_BYTES_LIMIT, "maxPayloadBytes");
            return this;
        }

        /**
         * Longest time an idle consumer waits before it looks at the table again (default 100 ms on
         * SQLite, 1 s on PostgreSQL). Publishes in this process and, on PostgreSQL, NOTIFY wake
         * consumers sooner; on SQLite this bounds the latency for messages published by another process.
         * 10 ms .. 1 hour.
         */
        public Builder pollInterval(Duration pollInterval) {
            this.pollInterval = Settings.between(pollInterval, Duration.ofMillis(10), Duration.ofHours(1), "pollInterval");
            return this;
        }

        /** Deliveries claimed per transaction, at most (default 100, at most 1000). */
        public Builder claimBatchSize(int claimBatchSize) {
            this.claimBatchSize = Settings.between(claimBatchSize, 1, 1000, "claimBatchSize");
            return this;
        }

        /** Settlements written per transaction when no claim is due (default 100, at most 10,000). */
        public Builder ackBatchSize(int ackBatchSize) {
            this.ackBatchSize = Settings.between(ackBatchSize, 1, 10_000, "ackBatchSize");
            return this;
        }

        /**
         * Messages of concurrent publish calls stored per transaction, at most (default 500). A
         * {@code publishAll} with more messages still gets one transaction of its own.
         */
        public Builder publishBatchSize(int publishBatchSize) {
            this.publishBatchSize = Settings.between(publishBatchSize, 1, 100_000, "publishBatchSize");
            return this;
        }

        /**
         * Publish calls waiting to be written, at most (default 10,000, at most 1,000,000). When full,
         * publishers wait up to the connect timeout, then the publish fails with a PublishException.
         */
        public Builder maxPendingPublishes(int maxPendingPublishes) {
            this.maxPendingPublishes = Settings.between(maxPendingPublishes, 1, 1_000_000, "maxPendingPublishes");
            return this;
        }

        /** Threads writing publishes (default 1 on SQLite, which has one writer anyway; 2 on PostgreSQL). */
        public Builder publishThreads(int publishThreads) {
            this.publishThreads = Settings.between(publishThreads, 1, 64, "publishThreads");
            return this;
        }

        /**
         * How long a message that every group has handled is kept (default 1 hour): a group created
         * later with EARLIEST receives retained messages. Zero deletes handled messages at the next
         * cleanup, at most 3,650 days. Messages some group has not handled yet are never deleted.
         */
        public Builder retention(Duration retention) {
            this.retention = Settings.between(retention, Duration.ZERO, MAX_RETENTION, "retention");
            return this;
        }

        /** Time between two cleanup rounds (default 30 s, 1 s .. 24 hours). */
        public Builder cleanupInterval(Duration cleanupInterval) {
            this.cleanupInterval = Settings.between(cleanupInterval, Duration.ofSeconds(1), Duration.ofHours(24),
                    "cleanupInterval");
            return this;
        }

        /** How long {@link JdbcIdempotentHandler} claims are kept (default 7 days, 1 s .. 3,650 days). */
        public Builder idempotencyRetention(Duration idempotencyRetention) {
            this.idempotencyRetention = Settings.between(idempotencyRetention, Duration.ofSeconds(1), MAX_RETENTION,
                    "idempotencyRetention");
            return this;
        }

        /**
         * How long to wait for a database connection (default 5 s, 250 ms .. 10 minutes); past it, the
         * operation fails with a {@link JdbcTransportException} of reason CONNECTION. A publish while the
         * database cannot be reached fails within about this long.
         */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = Settings.between(connectTimeout, Duration.ofMillis(250), Duration.ofMinutes(10),
                    "connectTimeout");
            return this;
        }

        /** SQLite only: how long a writer waits for another process's write lock (default 5 s, 10 ms .. 10 minutes). */
        public Builder busyTimeout(Duration busyTimeout) {
            this.busyTimeout = Settings.between(busyTimeout, Duration.ofMillis(10), Duration.ofMinutes(10), "busyTimeout");
            return this;
        }

        /** Size of the connection pool the transport creates (default 10; ignored for a given DataSource). */
        public Builder maxPoolSize(int maxPoolSize) {
            this.maxPoolSize = Settings.between(maxPoolSize, 2, 1000, "maxPoolSize");
            return this;
        }

        /** The clock for publish times, delays and leases (default: system UTC). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Opens the transport: creates the connection pool, then creates or upgrades the schema.
         *
         * @throws JdbcTransportException when the database cannot be reached, refuses the login, denies
         *                                a permission, or holds a newer schema
         */
        public JdbcTransport build() {
            return new JdbcTransport(this, open("opening the transport"));
        }

        /**
         * The database this builder describes, opened: the connections, and the schema created or
         * upgraded. {@code pool} closes the connection pool if it was created here (not a given DataSource).
         */
        record Opened(Database db, SqlPool pool) {
            /** Closes the pool if it was created here. */
            void closePool() {
                pool.close();
            }
        }

        /** Opens the database as {@link #build()} does, for {@code action} (named in errors). */
        Opened open(String action) {
            Opened opened = switch (kind) {
                case SQLITE -> openSqlite();
                case POSTGRES -> openPostgres();
            };
            Database db = opened.db();
            try {
                Migrator.forTable(db.dataSource(), db.dialect().kind(), db.tables().tablePrefix(), "schema_version")
                        .lockPurpose("schema")   // what earlier releases locked: old and new processes exclude each other
                        .clock(clock)
                        .apply(db.dialect().migrations(db.tables()));
            } catch (SQLException | RuntimeException e) {
                opened.closePool();
                throw SqlErrors.translate(action + " (creating or checking the schema of tables '"
                        + db.tables().prefix() + "*')", db.target(), e);
            }
            return opened;
        }

        /** The clock, for stores opened with this builder's settings. */
        Clock clock() {
            return clock;
        }

        /** The cleanup interval, for stores opened with this builder's settings. */
        Duration cleanupInterval() {
            return cleanupInterval;
        }

        private Opened opened(SqlDialect dialect, SqlPool pool) {
            Tables tables = new Tables(tablePrefix);
            boolean sqlite = dialect.kind() == DatabaseKind.SQLITE;
            return new Opened(new Database(pool.dataSource(), dialect, tables, sqlite, busyTimeout, pool.target()), pool);
        }

        private Opened openSqlite() {
            try {
                return opened(new SqliteDialect(), SqlPool.sqlite(file, poolSettings("courier-sqlite").busyTimeout(busyTimeout)
                        .build()));
            } catch (IOException e) {
                throw new JdbcTransportException(JdbcTransportException.Reason.PERMISSION,
                        "opening the transport failed: cannot create the directory of " + SqlPool.sqliteTarget(file) + ": "
                                + e, e);
            } catch (SQLException e) {   // not thrown: the pool does not fail fast
                throw SqlErrors.translate("opening the transport", SqlPool.sqliteTarget(file), e);
            }
        }

        private Opened openPostgres() {
            if (dataSource != null) {
                return opened(new PostgresDialect(), SqlPool.given(dataSource, DatabaseKind.POSTGRESQL));
            }
            try {
                return opened(new PostgresDialect(), SqlPool.postgres(jdbcUrl, user, password,
                        poolSettings("courier-postgresql").build()));
            } catch (SQLException e) {   // not thrown: the pool does not fail fast
                throw SqlErrors.translate("opening the transport", SqlPool.postgresTarget(jdbcUrl, user), e);
            }
        }

        /**
         * The pool: {@code maxPoolSize} connections, two of them kept idle, the connect timeout for a
         * connection and its validation (see {@link SqlPool}); the first use reports a database that
         * cannot be reached, so the pool does not fail fast.
         */
        private SqlPool.Settings.Builder poolSettings(String name) {
            return SqlPool.Settings.builder(name)
                    .maxPoolSize(maxPoolSize)
                    .minIdle(2)
                    .connectTimeout(connectTimeout);
        }
    }
}
