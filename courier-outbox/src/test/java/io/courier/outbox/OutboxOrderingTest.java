package io.courier.outbox;

import static io.courier.outbox.OutboxTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.jdbc.JdbcTransport;
import io.courier.outbox.OutboxTestSupport.Arrivals;
import io.courier.rabbitmq.RabbitMqTransport;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Many concurrent transactions that commit in shuffled order, some rolling back, relayed by several
 * relays at once: each committed message reaches RabbitMQ exactly once, no rolled-back one does,
 * and each key's messages arrive in the order their transactions committed.
 *
 * <p>Commit order is made visible by a ticket: the last statement of each transaction increments a
 * per-key counter row and records the value, so the row lock orders tickets exactly as the commits.
 * A writer without the outbox's per-key lock fails this test: a transaction that wrote its outbox
 * row first but committed second would be relayed first.
 */
class OutboxOrderingTest extends OutboxTestBase {

    private static final int WRITERS = 8;
    private static final int TRANSACTIONS_PER_WRITER = 40;
    private static final int KEYS = 5;

    private String topic;

    @ParameterizedTest(name = "{0}, {1} relays")
    @ValueSource(strings = {"postgres:2", "postgres:3", "sqlite:2"})
    void concurrentCommitsInShuffledOrderAreRelayedOnceEachInCommitOrderPerKey(String setup) throws Exception {
        kind = setup.split(":")[0];
        int relays = Integer.parseInt(setup.split(":")[1]);
        JdbcTransport db = database(kind);
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        topic = "outbox-order-" + UUID.randomUUID();
        Arrivals arrivals = later(new Arrivals(rabbit, topic));
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE " + prefix + "key_seq (k VARCHAR(20) PRIMARY KEY, n INTEGER NOT NULL)");
            st.execute("CREATE TABLE " + prefix + "tickets (message_id VARCHAR(64) PRIMARY KEY, k VARCHAR(20) NOT NULL,"
                    + " ticket INTEGER NOT NULL)");
            for (int k = 0; k < KEYS; k++) {
                st.execute("INSERT INTO " + prefix + "key_seq VALUES ('k" + k + "', 0)");
            }
        }
        Outbox writerSide = Outbox.builder(db).build();
        // Each relay on its own transport (its own pool), as in separate application instances.
        for (int r = 0; r < relays; r++) {
            JdbcTransport own = database(kind);
            later(Outbox.builder(own).build().relay().destination("rabbitmq", rabbit.publisher()).concurrency(16).start());
        }

        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        List<Future<?>> writers = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            writers.add(pool.submit(() -> {
                for (int i = 0; i < TRANSACTIONS_PER_WRITER; i++) {
                    writeOne(db, writerSide);
                }
                return null;
            }));
        }
        for (Future<?> f : writers) {
            f.get(120, TimeUnit.SECONDS);
        }
        pool.shutdown();

        Map<String, Integer> tickets = new HashMap<>();
        Map<String, String> keys = new HashMap<>();
        try (Connection c = db.dataSource().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT message_id, k, ticket FROM " + prefix + "tickets")) {
            while (rs.next()) {
                tickets.put(rs.getString(1), rs.getInt(3));
                keys.put(rs.getString(1), rs.getString(2));
            }
        }
        assertThat(tickets).hasSizeGreaterThan(WRITERS * TRANSACTIONS_PER_WRITER / 2);
        await().atMost(Duration.ofSeconds(90)).until(() -> arrivals.ids().size() >= tickets.size());
        await().atMost(Duration.ofSeconds(10)).until(() -> writerSide.status("rabbitmq").unsent() == 0);

        List<Message> got = arrivals.snapshot();
        assertThat(got).extracting(Message::id).doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(tickets.keySet());
        Map<String, Integer> lastTicket = new HashMap<>();
        for (Message m : got) {
            String key = m.key().orElseThrow();
            assertThat(key).isEqualTo(keys.get(m.id()));
            int ticket = tickets.get(m.id());
            Integer previous = lastTicket.put(key, ticket);
            assertThat(previous == null || previous < ticket)
                    .as("key %s: commit #%s arrived after commit #%s", key, ticket, previous).isTrue();
        }
    }

    private void writeOne(JdbcTransport db, Outbox outbox) throws Exception {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        String key = "k" + random.nextInt(KEYS);
        Message m = Message.builder().key(key).payload(("for " + key).getBytes()).build();
        try (Connection tx = db.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            try {
                outbox.to("rabbitmq").publish(tx, topic, m);
                Thread.sleep(random.nextInt(4));
                int ticket;
                try (PreparedStatement ps = tx.prepareStatement("UPDATE " + prefix + "key_seq SET n = n + 1 WHERE k = ? RETURNING n")) {
                    ps.setString(1, key);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        ticket = rs.getInt(1);
                    }
                }
                if (random.nextInt(5) == 0) {
                    tx.rollback();
                    return;
                }
                try (PreparedStatement ps = tx.prepareStatement("INSERT INTO " + prefix + "tickets VALUES (?, ?, ?)")) {
                    ps.setString(1, m.id());
                    ps.setString(2, key);
                    ps.setInt(3, ticket);
                    ps.executeUpdate();
                }
                tx.commit();
            } catch (Exception e) {
                tx.rollback();
                throw e;
            }
        }
    }
}
