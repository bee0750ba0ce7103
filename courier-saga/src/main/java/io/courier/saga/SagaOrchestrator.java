package io.courier.saga;

import io.courier.Codec;
import io.courier.Delivery;
import io.courier.JsonCodec;
import io.courier.Message;
import io.courier.StartPosition;
import io.courier.Subscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.jdbc.JdbcTransport;
import io.courier.jdbc.JdbcTransportException;
import io.courier.outbox.Outbox;
import io.courier.saga.internal.Engine;
import io.courier.saga.internal.SagaRow;
import io.courier.saga.internal.SagaStore;
import io.courier.spi.Settings;
import io.courier.spi.engine.RateLimitedLog;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs sagas: starts them, applies participants' replies, fires step timeouts and retries. State
 * lives in the SQL database of a {@link JdbcTransport} (SQLite or PostgreSQL): table
 * {@code <prefix>sagas} has one row per saga with a version, {@code <prefix>saga_log} its timeline.
 * Every change of a saga and the commands it causes commit in one transaction, the commands going
 * through the {@link Outbox} (or straight into the SQL transport for participants on it), so a
 * crash at any point leaves either the old state and no command, or the new state and its command.
 *
 * <p><b>Recovery.</b> Nothing is kept in memory between transitions: after a restart, replies
 * continue the sagas they belong to, and the timer thread finds every saga whose timeout or retry
 * came due while the process was down. Any number of orchestrators may run on one database; a saga
 * row is locked for each transition, so each happens once.
 *
 * <pre>{@code
 * try (SagaOrchestrator sagas = SagaOrchestrator.builder(transport).outbox(outbox).saga(orderSaga).start()) {
 *     String id = sagas.begin(orderSaga, new Order("o-1", 4200));    // or begin(tx, ...) in your transaction
 * }
 * }</pre>
 */
public final class SagaOrchestrator implements AutoCloseable {

    /** The consumer group of the reply subscriptions. */
    public static final String REPLY_GROUP = "courier-saga-orchestrator";

    private static final Logger log = LoggerFactory.getLogger(SagaOrchestrator.class);

    private final JdbcTransport transport;
    private final SagaStore store;
    private final Engine engine;
    private final Clock clock;
    private final Map<String, SagaDefinition<?>> definitions;
    private final List<Subscription> subscriptions = new ArrayList<>();
    private final Duration timerInterval;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread timer;

    private SagaOrchestrator(Builder b) throws SQLException {
        this.transport = b.transport;
        this.clock = b.clock == null ? transport.clock() : b.clock;
        this.definitions = Map.copyOf(b.definitions);
        this.store = SagaStore.open(transport.dataSource(), transport.tablePrefix());
        Outbox outbox = b.outbox;
        this.engine = new Engine(store, b.codec, (tx, destination, topic, message) -> {
            if (destination == null) {
                transport.transactionalPublisher().publish(tx, topic, message);
            } else {
                outbox.to(destination).publish(tx, topic, message);
            }
        });
        this.timerInterval = b.timerInterval;
        Subscriber replies = b.replies == null ? transport.subscriber() : b.replies;
        try {
            for (String type : definitions.keySet()) {
                subscriptions.add(replies.subscribe(SubscriptionOptions.builder(Engine.replyTopic(type), REPLY_GROUP)
                        .concurrency(b.replyConcurrency).leaseTimeout(b.replyLeaseTimeout).startPosition(StartPosition.EARLIEST)
                        .build(), this::onReply));
            }
        } catch (RuntimeException e) {
            subscriptions.forEach(Subscription::close);
            throw e;
        }
        if (timerInterval.isZero()) {
            this.timer = null;
        } else {
            this.timer = new Thread(this::runTimers, "courier-saga-timers");
            timer.setDaemon(true);
            timer.start();
        }
    }

    /** Starts configuring an orchestrator whose sagas live in {@code transport}'s database. */
    public static Builder builder(JdbcTransport transport) {
        return new Builder(transport);
    }

    /**
     * Starts a saga in the caller's transaction {@code tx} (a connection of the store's database with
     * auto-commit off): its row, its first commands and the caller's own writes commit together.
     * Local first steps run now, in {@code tx}.
     *
     * @return the saga's id
     */
    public <D> String begin(Connection tx, SagaDefinition<D> definition, D data) {
        return begin(tx, definition, UUID.randomUUID().toString(), data);
    }

    /**
     * Like {@link #begin(Connection, SagaDefinition, Object)} with the saga id chosen by the caller
     * (for example the order id): a second start with the same id fails on the primary key, so a
     * retried request cannot start the saga twice.
     */
    public <D> String begin(Connection tx, SagaDefinition<D> definition, String id, D data) {
        Objects.requireNonNull(tx, "tx");
        checkKnown(definition);
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(data, "data");
        try {
            engine.begin(tx, definition, id, data, clock.millis());
            return id;
        } catch (SQLException | Engine.LogFailure e) {
            throw failure("starting saga " + id + " of type '" + definition.name() + "'", e);
        }
    }

    /** Starts a saga in a transaction of its own. */
    public <D> String begin(SagaDefinition<D> definition, D data) {
        checkKnown(definition);
        String id = UUID.randomUUID().toString();
        inTransaction("starting a saga of type '" + definition.name() + "'", c -> {
            engine.begin(c, definition, id, data, clock.millis());
            return null;
        });
        return id;
    }

    /**
     * Handles every saga whose timeout or retry is due now, by the orchestrator's clock. The timer
     * thread calls this every timer interval; tests with a controllable clock and
     * {@link Builder#manualTimers()} call it themselves after moving the clock.
     *
     * @return how many sagas it moved on
     */
    public int tick() {
        long now = clock.millis();
        List<String> due = read("reading due sagas", c -> store.due(c, now, 500));
        int moved = 0;
        for (String id : due) {
            Boolean done = inTransaction("firing the timer of saga " + id, c -> {
                Optional<SagaRow> row = store.lock(c, id);
                if (row.isEmpty() || row.get().wakeAt == null || row.get().wakeAt > now) {
                    return false;            // another orchestrator got there first
                }
                SagaRow r = row.get();
                engine.due(c, definition(r.type), r, now);
                store.update(c, r);
                return true;
            });
            if (done) {
                moved++;
            }
        }
        return moved;
    }

    /** Listing, inspecting, retrying and aborting sagas. */
    public SagaOperations operations() {
        return new SagaOperations(this);
    }

    /** The reply topic of saga type {@code type}: where participants send their replies. */
    public static String replyTopic(String type) {
        return Engine.replyTopic(type);
    }

    /** Stops the timer thread and the reply subscriptions (replies being applied finish first). Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (timer != null) {
            timer.interrupt();
            try {
                timer.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (Subscription s : subscriptions) {
            s.close();
        }
    }

    private void onReply(Delivery delivery) {
        Message m = delivery.message();
        String id = m.header(SagaCommand.SAGA_ID).orElse(null);
        if (id == null) {
            log.warn("ignoring message {} on {}: it has no header {}", m.id(), delivery.topic(), SagaCommand.SAGA_ID);
            return;
        }
        int step = Integer.parseInt(m.header(SagaCommand.STEP_INDEX).orElse("-1"));
        boolean compensation = "compensation".equals(m.header(SagaCommand.PHASE).orElse(""));
        int attempt = Integer.parseInt(m.header(SagaCommand.ATTEMPT).orElse("1"));
        SagaReply reply = SagaReply.of(SagaReply.Outcome.valueOf(m.header(SagaCommand.OUTCOME).orElse("ERROR")),
                m.header(SagaCommand.REASON).orElse(""), m.payload());
        inTransaction("applying a reply to saga " + id, c -> {
            Optional<SagaRow> row = store.lock(c, id);
            if (row.isEmpty()) {
                log.warn("reply {} is for saga {}, which does not exist here; ignored", m.id(), id);
                return null;
            }
            SagaRow r = row.get();
            long now = clock.millis();
            if (engine.reply(c, definition(r.type), r, step, compensation, attempt, reply, now)) {
                store.update(c, r);
            }
            return null;
        });
    }

    private void runTimers() {
        RateLimitedLog failures = new RateLimitedLog(log, Clock.systemUTC(), Duration.ofSeconds(30));
        while (!closed.get()) {
            try {
                tick();
                failures.recovered("saga timers work again");
            } catch (RuntimeException e) {
                failures.warn("saga timers failed; trying again every " + timerInterval.toMillis() + " ms: " + e);
            }
            try {
                Thread.sleep(timerInterval.toMillis());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    SagaStore store() {
        return store;
    }

    Engine engine() {
        return engine;
    }

    Clock clock() {
        return clock;
    }

    @SuppressWarnings("unchecked")
    <D> SagaDefinition<D> definition(String type) {
        SagaDefinition<?> d = definitions.get(type);
        if (d == null) {
            throw new IllegalStateException("saga type '" + type + "' is not registered with this orchestrator; add it with"
                    + " Builder.saga(definition)");
        }
        return (SagaDefinition<D>) d;
    }

    private void checkKnown(SagaDefinition<?> definition) {
        Objects.requireNonNull(definition, "definition");
        if (definitions.get(definition.name()) != definition) {
            throw new IllegalArgumentException("saga type '" + definition.name() + "' is not registered with this orchestrator");
        }
    }

    /** Work in a transaction. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs read-only {@code work} on a connection in auto-commit mode: no transaction, no commit. */
    <T> T read(String what, Work<T> work) {
        try (Connection c = transport.dataSource().getConnection()) {
            return work.run(c);
        } catch (SQLException | Engine.LogFailure e) {
            throw failure(what, e);
        }
    }

    <T> T inTransaction(String what, Work<T> work) {
        try (Connection c = transport.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException | Error e) {
                try {
                    c.rollback();
                } catch (SQLException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        } catch (SQLException | Engine.LogFailure e) {
            throw failure(what, e);
        }
    }

    private JdbcTransportException failure(String what, Exception e) {
        SQLException cause = e instanceof Engine.LogFailure lf ? lf.getCause() : (SQLException) e;
        return new JdbcTransportException(JdbcTransportException.Reason.DATABASE, what + " failed: " + cause.getMessage(), cause);
    }

    @Override
    public String toString() {
        return "SagaOrchestrator[" + definitions.keySet() + " on " + transport + "]";
    }

    /** Configures a {@link SagaOrchestrator}. Not thread-safe. */
    public static final class Builder {

        private final JdbcTransport transport;
        private final Map<String, SagaDefinition<?>> definitions = new LinkedHashMap<>();
        private Outbox outbox;
        private Subscriber replies;
        private Codec codec = JsonCodec.defaults();
        private Clock clock;
        private Duration timerInterval = Duration.ofMillis(250);
        private int replyConcurrency = 8;
        private Duration replyLeaseTimeout = SubscriptionOptions.DEFAULT_LEASE_TIMEOUT;

        private Builder(JdbcTransport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
        }

        /** Registers a saga type. */
        public Builder saga(SagaDefinition<?> definition) {
            Objects.requireNonNull(definition, "definition");
            if (definitions.putIfAbsent(definition.name(), definition) != null) {
                throw new IllegalArgumentException("saga type '" + definition.name() + "' is registered twice");
            }
            return this;
        }

        /** The outbox that commands to other destinations than the store's SQL transport go through. */
        public Builder outbox(Outbox outbox) {
            this.outbox = Objects.requireNonNull(outbox, "outbox");
            return this;
        }

        /**
         * Where replies arrive (default: the store's SQL transport). Participants on RabbitMQ, say,
         * reply over RabbitMQ: pass {@code rabbitmq.subscriber()}.
         */
        public Builder replies(Subscriber replies) {
            this.replies = Objects.requireNonNull(replies, "replies");
            return this;
        }

        /** Replies applied at once (default 8). */
        public Builder replyConcurrency(int replyConcurrency) {
            this.replyConcurrency = Settings.between(replyConcurrency, 1, 1024, "replyConcurrency");
            return this;
        }

        /**
         * The lease of the reply subscriptions (default 30 s): after an orchestrator dies, the replies
         * it had claimed are applied by another one after this, on transports with leases.
         */
        public Builder replyLeaseTimeout(Duration replyLeaseTimeout) {
            this.replyLeaseTimeout = Settings.between(replyLeaseTimeout, SubscriptionOptions.MIN_LEASE_TIMEOUT,
                    SubscriptionOptions.MAX_TIMEOUT, "replyLeaseTimeout");
            return this;
        }

        /** The codec of saga data and command payloads (default JSON). */
        public Builder codec(Codec codec) {
            this.codec = Objects.requireNonNull(codec, "codec");
            return this;
        }

        /** The clock of timeouts and retries (default the transport's). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** How often the timer thread looks for due timeouts and retries (default 250 ms). */
        public Builder timerInterval(Duration timerInterval) {
            this.timerInterval = Settings.between(timerInterval, Duration.ofMillis(10), Duration.ofMinutes(10), "timerInterval");
            return this;
        }

        /** No timer thread: timeouts and retries fire only when the caller calls {@link SagaOrchestrator#tick()} (for tests). */
        public Builder manualTimers() {
            this.timerInterval = Duration.ZERO;
            return this;
        }

        /**
         * Creates or upgrades the saga tables, subscribes to the reply topics and starts the timer thread.
         *
         * @throws IllegalStateException when no saga was registered, or a step sends to a destination without an outbox
         * @throws JdbcTransportException when the database refuses
         */
        public SagaOrchestrator start() {
            if (definitions.isEmpty()) {
                throw new IllegalStateException("register at least one saga with saga(definition)");
            }
            for (SagaDefinition<?> d : definitions.values()) {
                for (SagaStep<?> s : d.steps()) {
                    for (SagaStep.Action<?> a : new SagaStep.Action<?>[] {s.action(), s.compensation()}) {
                        if (a != null && a.destination() != null && outbox == null) {
                            throw new IllegalStateException("step '" + s.name() + "' of saga '" + d.name() + "' sends to destination '"
                                    + a.destination() + "': configure the orchestrator's outbox(...)");
                        }
                    }
                }
            }
            try {
                return new SagaOrchestrator(this);
            } catch (SQLException e) {
                throw new JdbcTransportException(JdbcTransportException.Reason.SCHEMA, "opening the saga tables of " + transport
                        + " failed: " + e.getMessage(), e);
            }
        }
    }
}
