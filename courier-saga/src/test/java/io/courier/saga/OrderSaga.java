package io.courier.saga;

import io.courier.Publisher;
import io.courier.Subscriber;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.jdbc.JdbcTransport;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The four-step order saga of the tests: reserve stock, charge payment (both compensable), approve
 * the order locally (the pivot), notify (retriable). Participants keep their effects in tables of
 * the participant database, so tests can count each effect.
 */
final class OrderSaga {

    /** The saga's data. */
    record Order(String id, String sku, int qty, long amount, String chargeId) {
        Order withChargeId(String chargeId) {
            return new Order(id, sku, qty, amount, chargeId);
        }
    }

    static final long CARD_LIMIT = 1_000;

    private OrderSaga() {
    }

    /** The definition; commands go to {@code destination} (null: the store's SQL transport). */
    static SagaDefinition<Order> definition(String destination, String prefix, Duration timeout, TimeoutAction onTimeout) {
        return SagaDefinition.builder("order", Order.class)
                .step(SagaStep.<Order>named("reserve-stock")
                        .command(destination, "inventory.reserve", o -> o)
                        .compensation(destination, "inventory.release", o -> o)
                        .timeout(timeout).onTimeout(onTimeout).backoff(Duration.ofMillis(100), Duration.ofSeconds(1)))
                .step(SagaStep.<Order>named("charge-payment")
                        .command(destination, "payment.charge", o -> o)
                        .compensation(destination, "payment.refund", o -> o)
                        .onSuccess((o, reply) -> o.withChargeId(reply.payloadAsText()))
                        .timeout(timeout).onTimeout(onTimeout).backoff(Duration.ofMillis(100), Duration.ofSeconds(1))
                        .compensationAttempts(3))
                .step(SagaStep.<Order>named("approve-order").local((o, tx) -> {
                    try (PreparedStatement ps = tx.prepareStatement("UPDATE " + prefix + "orders SET status = 'APPROVED' WHERE id = ?")) {
                        ps.setString(1, o.id());
                        ps.executeUpdate();
                    }
                    return o;
                }).pivot())
                .step(SagaStep.<Order>named("notify").command(destination, "notify.send", o -> o.id()).retriable()
                        .timeout(timeout).backoff(Duration.ofMillis(100), Duration.ofSeconds(1)))
                .build();
    }

    static void createTables(JdbcTransport db, String prefix) throws SQLException {
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE " + prefix + "orders (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL)");
            st.execute("CREATE TABLE " + prefix + "stock (sku VARCHAR(64) PRIMARY KEY, qty INTEGER NOT NULL)");
            st.execute("CREATE TABLE " + prefix + "reservations (order_id VARCHAR(64) NOT NULL, applied INTEGER NOT NULL,"
                    + " released INTEGER NOT NULL)");
            st.execute("CREATE TABLE " + prefix + "charges (order_id VARCHAR(64) NOT NULL, amount BIGINT NOT NULL,"
                    + " refunded INTEGER NOT NULL)");
            st.execute("CREATE TABLE " + prefix + "notifications (order_id VARCHAR(64) NOT NULL)");
            st.execute("INSERT INTO " + prefix + "stock VALUES ('sku-1', 1000000)");
        }
    }

    /** Starts an order: its row and its saga in one transaction. */
    static String place(SagaOrchestrator sagas, SagaDefinition<Order> saga, JdbcTransport db, String prefix, Order order)
            throws SQLException {
        try (Connection tx = db.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO " + prefix + "orders VALUES (?, 'PENDING')")) {
                ps.setString(1, order.id());
                ps.executeUpdate();
            }
            String id = sagas.begin(tx, saga, order.id(), order);
            tx.commit();
            return id;
        }
    }

    /** Subscribes the participants on {@code subscriber}; effects go to {@code db}, replies through {@code replies}. */
    static List<Subscription> participants(Subscriber subscriber, JdbcTransport db, Publisher replies, String prefix,
                                           boolean withCharge) {
        List<Subscription> subs = new ArrayList<>();
        subs.add(subscriber.subscribe(options("inventory.reserve"), SagaParticipant.transactional(db, replies, (cmd, tx) -> {
            Order o = cmd.payloadAs(Order.class);
            if (update(tx, "UPDATE " + prefix + "stock SET qty = qty - ? WHERE sku = ? AND qty >= ?", o.qty(), o.sku(), o.qty()) == 0) {
                throw new SagaFailure("out of stock: " + o.sku());
            }
            update(tx, "INSERT INTO " + prefix + "reservations VALUES (?, 1, 0)", o.id());
            return SagaReply.success();
        })));
        subs.add(subscriber.subscribe(options("inventory.release"), SagaParticipant.transactional(db, replies, (cmd, tx) -> {
            Order o = cmd.payloadAs(Order.class);
            if (update(tx, "UPDATE " + prefix + "reservations SET released = released + 1 WHERE order_id = ?", o.id()) > 0) {
                update(tx, "UPDATE " + prefix + "stock SET qty = qty + ? WHERE sku = ?", o.qty(), o.sku());
            }
            return SagaReply.success();
        })));
        if (withCharge) {
            subs.add(subscriber.subscribe(options("payment.charge"), SagaParticipant.transactional(db, replies, (cmd, tx) -> {
                Order o = cmd.payloadAs(Order.class);
                if (o.amount() > CARD_LIMIT) {
                    throw new SagaFailure("card declined: " + o.amount() + " over the limit");
                }
                update(tx, "INSERT INTO " + prefix + "charges VALUES (?, ?, 0)", o.id(), o.amount());
                return SagaReply.success("ch_" + o.id());
            })));
        }
        subs.add(subscriber.subscribe(options("payment.refund"), SagaParticipant.transactional(db, replies, (cmd, tx) -> {
            update(tx, "UPDATE " + prefix + "charges SET refunded = refunded + 1 WHERE order_id = ?", cmd.payloadAs(Order.class).id());
            return SagaReply.success();
        })));
        subs.add(subscriber.subscribe(options("notify.send"), SagaParticipant.transactional(db, replies, (cmd, tx) -> {
            update(tx, "INSERT INTO " + prefix + "notifications VALUES (?)", cmd.payloadAsText());
            return SagaReply.success();
        })));
        return subs;
    }

    private static SubscriptionOptions options(String topic) {
        return SubscriptionOptions.builder(topic, "participants").concurrency(4)
                .startPosition(io.courier.StartPosition.EARLIEST).build();
    }

    static int update(Connection tx, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = tx.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            return ps.executeUpdate();
        }
    }

    static long count(JdbcTransport db, String sql) throws SQLException {
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }
}
