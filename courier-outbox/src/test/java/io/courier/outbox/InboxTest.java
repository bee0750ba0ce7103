package io.courier.outbox;

import static io.courier.outbox.OutboxTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Handler;
import io.courier.Message;
import io.courier.StartPosition;
import io.courier.SubscriptionOptions;
import io.courier.jdbc.JdbcIdempotentHandler;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaTransport;
import io.courier.outbox.OutboxTestSupport.Arrivals;
import io.courier.rabbitmq.RabbitMqTransport;
import io.courier.spi.BasicDelivery;
import io.courier.testkit.KafkaBroker;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Consume, write, produce: a Kafka consumer whose handler, in one PostgreSQL transaction, records
 * the message id, writes a business row and writes an outgoing message for RabbitMQ to the outbox.
 * Duplicates of the incoming message change nothing a second time.
 */
@ExtendWith(KafkaBroker.class)
class InboxTest extends OutboxTestBase {

    private Handler inbox(JdbcTransport db, Outbox outbox, String outTopic) {
        return JdbcIdempotentHandler.of(db, (delivery, tx) -> {
            String order = delivery.message().payloadAsText();
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO " + prefix + "orders (id, status) VALUES (?, 'PAID')"
                    + " ON CONFLICT (id) DO UPDATE SET writes = " + prefix + "orders.writes + 1")) {
                ps.setString(1, order);
                ps.executeUpdate();
            }
            outbox.to("rabbitmq").publish(tx, outTopic, Message.builder().key(order)
                    .header("caused-by", delivery.message().id()).payload(("shipped " + order).getBytes()).build());
        });
    }

    private JdbcTransport databaseWithOrders() throws Exception {
        JdbcTransport db = database("postgres");
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE " + prefix + "orders (id VARCHAR(64) PRIMARY KEY, status VARCHAR(16) NOT NULL,"
                    + " writes INTEGER NOT NULL DEFAULT 1)");
        }
        return db;
    }

    @Test
    void theSameMessageDeliveredEightTimesAtOnceIsHandledOnce() throws Exception {
        JdbcTransport db = databaseWithOrders();
        Outbox outbox = Outbox.builder(db).build();
        Handler handler = inbox(db, outbox, "shipments");
        Message incoming = Message.ofText("order-1");
        CyclicBarrier start = new CyclicBarrier(8);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<?>> runs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int attempt = i + 1;
            runs.add(pool.submit(() -> {
                start.await();
                handler.handle(new BasicDelivery(incoming, "payments", "shipping", attempt));
                return null;
            }));
        }
        for (Future<?> f : runs) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "orders")).isEqualTo(1);
        assertThat(count(db, "SELECT writes FROM " + prefix + "orders")).isEqualTo(1);
        assertThat(outbox.status("rabbitmq").unsent()).isEqualTo(1);
    }

    @Test
    void kafkaInRabbitmqOutWithDuplicatesIsExactlyOnceInEffect() throws Exception {
        JdbcTransport db = databaseWithOrders();
        Outbox outbox = Outbox.builder(db).build();
        KafkaTransport kafka = later(KafkaTransport.create(KafkaConfig.builder().bootstrapServers(KafkaBroker.bootstrapServers())
                .clientId("courier-inbox-test").partitions(3).commitInterval(Duration.ofMillis(200)).build()));
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        String in = "inbox-in-" + UUID.randomUUID();
        String out = "inbox-out-" + UUID.randomUUID();
        Arrivals shipped = later(new Arrivals(rabbit, out));
        later(kafka.subscriber().subscribe(SubscriptionOptions.builder(in, "shipping").concurrency(4)
                .startPosition(StartPosition.EARLIEST).build(), inbox(db, outbox, out)));
        later(outbox.relay().destination("rabbitmq", rabbit.publisher()).start());

        List<Message> orders = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            orders.add(Message.ofText("order-" + i));
        }
        for (int copy = 0; copy < 3; copy++) {          // every payment event arrives three times
            for (Message m : orders) {
                kafka.publisher().publish(in, m).get(30, TimeUnit.SECONDS);
            }
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> shipped.ids().size() >= orders.size());
        await().atMost(Duration.ofSeconds(30)).until(() -> outbox.status("rabbitmq").unsent() == 0);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "orders")).isEqualTo(orders.size());
        assertThat(count(db, "SELECT MAX(writes) FROM " + prefix + "orders")).isEqualTo(1);
        List<Message> got = shipped.snapshot();
        assertThat(got).hasSize(orders.size());
        assertThat(got).extracting(m -> m.header("caused-by").orElseThrow())
                .containsExactlyInAnyOrderElementsOf(orders.stream().map(Message::id).toList());
    }

    private static long count(JdbcTransport db, String sql) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
