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
import io.courier.rabbitmq.RabbitMqTransport;
import io.courier.testkit.fault.ChildJvm;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Relays killed with SIGKILL while relaying. Messages committed while no relay lives are published
 * after a relay starts again; messages the broker acknowledged just before the kill, before their
 * outbox rows were acknowledged, are published twice, and an inbox on the consuming side makes the
 * second copy harmless. Counted at the end: lost 0, business writes once per message.
 */
class OutboxCrashTest extends OutboxTestBase {

    private static final int BATCHES = 60;
    private static final int PER_BATCH = 50;

    @Test
    void killedRelaysLoseNothingAndTheInboxAbsorbsTheDuplicates() throws Exception {
        JdbcTransport db = later(JdbcTransport.postgres(OutboxTestSupport.PG_URL, "postgres", "").tablePrefix(prefix).build());
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE " + prefix + "orders (id VARCHAR(64) PRIMARY KEY, writes INTEGER NOT NULL DEFAULT 1)");
        }
        Outbox outbox = Outbox.builder(db).build();
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        String topic = "outbox-crash-" + UUID.randomUUID();
        Set<String> arrived = ConcurrentHashMap.newKeySet();
        AtomicInteger deliveries = new AtomicInteger();
        // The consuming side: an inbox that writes one business row per message id.
        Handler inbox = JdbcIdempotentHandler.of(db, (d, tx) -> {
            arrived.add(d.message().id());
            try (PreparedStatement ps = tx.prepareStatement("INSERT INTO " + prefix + "orders (id) VALUES (?)"
                    + " ON CONFLICT (id) DO UPDATE SET writes = " + prefix + "orders.writes + 1")) {
                ps.setString(1, d.message().id());
                ps.executeUpdate();
            }
        });
        later(rabbit.subscriber().subscribe(SubscriptionOptions.builder(topic, "billing").concurrency(8)
                .startPosition(StartPosition.EARLIEST).build(), d -> {
                    deliveries.incrementAndGet();     // every copy RabbitMQ delivers, duplicates included
                    inbox.handle(d);
                }));

        List<String> written = new ArrayList<>();
        ChildJvm relay = later(startRelay());
        int batch = 0;
        for (int kill = 0; kill < 3; kill++) {
            int target = arrived.size() + PER_BATCH * 2;
            for (int i = 0; i < BATCHES / 4; i++, batch++) {
                written.addAll(writeBatch(db, outbox, topic, batch));
            }
            // Kill while the relay is busy, so that some messages are acknowledged by RabbitMQ but not in the outbox.
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(2)).until(() -> arrived.size() >= target);
            relay.kill();                                   // SIGKILL in the middle of relaying
            for (int i = 0; i < 2; i++, batch++) {          // committed while no relay lives
                written.addAll(writeBatch(db, outbox, topic, batch));
            }
            relay = later(startRelay());
        }
        for (; batch < BATCHES; batch++) {
            written.addAll(writeBatch(db, outbox, topic, batch));
        }
        await().atMost(Duration.ofSeconds(120)).until(() -> arrived.size() >= written.size());
        await().atMost(Duration.ofSeconds(30)).until(() -> outbox.status("rabbitmq").unsent() == 0);

        assertThat(arrived).containsExactlyInAnyOrderElementsOf(written);   // lost: 0
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "orders")).isEqualTo(written.size());
        assertThat(count(db, "SELECT MAX(writes) FROM " + prefix + "orders")).isEqualTo(1);
        System.out.printf("outbox crash test: %d written, %d deliveries to the inbox (%d duplicates absorbed)%n",
                written.size(), deliveries.get(), deliveries.get() - written.size());
    }

    private ChildJvm startRelay() throws Exception {
        ChildJvm child = ChildJvm.builder(RelayChildMain.class).args(prefix).start();
        child.awaitLine("READY", Duration.ofSeconds(60));
        return child;
    }

    private static List<String> writeBatch(JdbcTransport db, Outbox outbox, String topic, int batch) throws Exception {
        List<String> ids = new ArrayList<>();
        try (Connection tx = db.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            for (int i = 0; i < PER_BATCH; i++) {
                Message m = Message.builder().key("customer-" + (i % 10)).payload(("b" + batch + "-" + i).getBytes()).build();
                outbox.to("rabbitmq").publish(tx, topic, m);
                ids.add(m.id());
            }
            tx.commit();
        }
        return ids;
    }

    private static long count(JdbcTransport db, String sql) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
