package io.courier.outbox;

import static io.courier.outbox.OutboxTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.jdbc.JdbcPublisher;
import io.courier.jdbc.JdbcTransport;
import io.courier.memory.InMemoryTransport;
import io.courier.outbox.OutboxTestSupport.Arrivals;
import io.courier.rabbitmq.RabbitMqTransport;
import io.courier.testkit.fault.TcpProxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The outbox relayed to a real RabbitMQ, from SQLite and from PostgreSQL. */
class OutboxRelayTest extends OutboxTestBase {

    private static String topic() {
        return "outbox-test-" + UUID.randomUUID();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres"})
    void committedMessagesReachTheBrokerAndRolledBackOnesNever(String kind) throws Exception {
        JdbcTransport db = database(kind);
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        String topic = topic();
        Arrivals arrivals = later(new Arrivals(rabbit, topic));
        Outbox outbox = Outbox.builder(db).build();
        JdbcPublisher out = outbox.to("rabbitmq");

        List<String> committed = new ArrayList<>();
        List<String> rolledBack = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Message m = Message.builder().key("k" + (i % 3)).header("seq", Integer.toString(i)).payload(("m" + i).getBytes()).build();
            try (Connection tx = db.dataSource().getConnection()) {
                tx.setAutoCommit(false);
                out.publish(tx, topic, m);
                if (i % 4 == 3) {
                    tx.rollback();
                    rolledBack.add(m.id());
                } else {
                    tx.commit();
                    committed.add(m.id());
                }
            }
        }
        // Written before any relay ran: kept for it.
        assertThat(outbox.status("rabbitmq").unsent()).isEqualTo(committed.size());

        try (OutboxRelay relay = outbox.relay().destination("rabbitmq", rabbit.publisher()).start()) {
            await().atMost(Duration.ofSeconds(30)).until(() -> arrivals.ids().size() >= committed.size());
            await().atMost(Duration.ofSeconds(10)).until(() -> outbox.status("rabbitmq").unsent() == 0);
            assertThat(relay.relayed()).isEqualTo(committed.size());
        }
        List<Message> got = arrivals.snapshot();
        assertThat(got).extracting(Message::id).containsExactlyInAnyOrderElementsOf(committed)
                .doesNotContainAnyElementsOf(rolledBack);
        assertKeyOrder(got);   // keys are independent; within a key, write order
        Message first = got.stream().filter(m -> m.header("seq").orElseThrow().equals("0")).findFirst().orElseThrow();
        assertThat(first.headers()).containsEntry("seq", "0").doesNotContainKey(Outbox.TOPIC_HEADER);
        assertThat(first.key()).contains("k0");
        assertThat(first.payloadAsText()).isEqualTo("m0");
    }

    @Test
    void aMessageWrittenWithADelayIsRelayedWhenDue() throws Exception {
        JdbcTransport db = database("sqlite");
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        String topic = topic();
        Arrivals arrivals = later(new Arrivals(rabbit, topic));
        Outbox outbox = Outbox.builder(db).build();
        Instant due = Instant.now().plusSeconds(2);
        try (Connection tx = db.dataSource().getConnection()) {
            outbox.to("rabbitmq").publishAt(tx, topic, Message.ofText("later"), due);   // auto-commit: its own transaction
        }
        later(outbox.relay().destination("rabbitmq", rabbit.publisher()).start());
        await().atMost(Duration.ofSeconds(20)).until(() -> arrivals.ids().size() == 1);
        assertThat(Instant.now()).isAfterOrEqualTo(due);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres"})
    void aRefusedMessageIsParkedWithItsReasonWhileOtherKeysFlowAndCanBeRetried(String kind) throws Exception {
        JdbcTransport db = database(kind);
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        String routable = topic();
        String unroutable = topic();   // nobody subscribed: RabbitMQ returns it as unroutable
        Arrivals arrivals = later(new Arrivals(rabbit, routable));
        Outbox outbox = Outbox.builder(db).build();
        JdbcPublisher out = outbox.to("rabbitmq");
        Message poison = Message.builder().key("same").payload("nowhere".getBytes()).build();
        Message after = Message.builder().key("same").payload("after".getBytes()).build();
        try (Connection tx = db.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            out.publish(tx, unroutable, poison);
            out.publish(tx, routable, after);
            for (int i = 0; i < 10; i++) {
                out.publish(tx, routable, Message.builder().key("other" + i).payload("x".getBytes()).build());
            }
            tx.commit();
        }
        OutboxRelay relay = later(outbox.relay().destination("rabbitmq", rabbit.publisher()).start());
        await().atMost(Duration.ofSeconds(30)).until(() -> arrivals.ids().size() == 11);
        assertThat(arrivals.ids()).contains(after.id()).doesNotContain(poison.id());
        await().atMost(Duration.ofSeconds(10)).until(() -> outbox.status("rabbitmq").unsent() == 0);

        ParkedMessages parked = outbox.parked();
        assertThat(parked.count("rabbitmq")).isEqualTo(1);
        assertThat(outbox.status("rabbitmq").parked()).isEqualTo(1);
        ParkedMessage p = parked.list(10).get(0);
        assertThat(p.message().id()).isEqualTo(poison.id());
        assertThat(p.message().payloadAsText()).isEqualTo("nowhere");
        assertThat(p.message().key()).contains("same");
        assertThat(p.topic()).isEqualTo(unroutable);
        assertThat(p.reason()).contains("unroutable");
        assertThat(p.errorClass()).isEqualTo("io.courier.PublishRefusedException");
        assertThat(relay.parked()).isEqualTo(1);

        // The operator fixes the destination (a consumer group now exists) and retries.
        Arrivals fixed = later(new Arrivals(rabbit, unroutable));
        assertThat(parked.retry(p.id())).isTrue();
        assertThat(parked.retry(p.id())).isFalse();
        await().atMost(Duration.ofSeconds(30)).until(() -> fixed.ids().size() == 1);
        assertThat(fixed.ids()).containsExactly(poison.id());
        assertThat(parked.count()).isZero();
    }

    @Test
    void discardingAParkedMessageRemovesItForGood() throws Exception {
        JdbcTransport db = database("sqlite");
        RabbitMqTransport rabbit = later(OutboxTestSupport.rabbitTransport());
        Outbox outbox = Outbox.builder(db).build();
        try (Connection tx = db.dataSource().getConnection()) {
            outbox.to("rabbitmq").publish(tx, topic(), Message.ofText("nobody listens"));
        }
        later(outbox.relay().destination("rabbitmq", rabbit.publisher()).start());
        await().atMost(Duration.ofSeconds(30)).until(() -> outbox.parked().count() == 1);
        long id = outbox.parked().list(1).get(0).id();
        assertThat(outbox.parked().discard(id)).isTrue();
        assertThat(outbox.parked().find(id)).isEmpty();
        assertThat(outbox.parked().discard(id)).isFalse();
        assertThat(outbox.status("rabbitmq").unsent()).isZero();
    }

    @Test
    void aBrokerOutageMakesTheRelayRetryAndNothingIsLostOrParked() throws Exception {
        JdbcTransport db = database("postgres");
        RabbitMqTransport checker = later(OutboxTestSupport.rabbitTransport());
        String topic = topic();
        Arrivals arrivals = later(new Arrivals(checker, topic));
        TcpProxy proxy = later(TcpProxy.start("127.0.0.1", 5672));
        RabbitMqTransport viaProxy = later(RabbitMqTransport.connect(OutboxTestSupport.rabbit().host(proxy.host())
                .port(proxy.port()).publishConfirmTimeout(Duration.ofSeconds(2)).build()));
        Outbox outbox = Outbox.builder(db).build();
        OutboxRelay relay = later(outbox.relay().destination("rabbitmq", viaProxy.publisher())
                .publishTimeout(Duration.ofSeconds(2)).retryBackoff(Duration.ofMillis(50), Duration.ofMillis(500)).start());
        List<String> written = write(db, outbox, topic, 0, 50);
        await().atMost(Duration.ofSeconds(30)).until(() -> arrivals.ids().size() >= 50);

        proxy.cut();
        proxy.blackhole();
        written.addAll(write(db, outbox, topic, 50, 100));
        await().atMost(Duration.ofSeconds(30)).until(() -> relay.retried() > 0);
        assertThat(outbox.status("rabbitmq").unsent()).isPositive();
        proxy.heal();

        await().atMost(Duration.ofSeconds(60)).until(() -> arrivals.ids().containsAll(written));
        await().atMost(Duration.ofSeconds(10)).until(() -> outbox.status("rabbitmq").unsent() == 0);
        assertThat(outbox.parked().count()).isZero();
        // Per key, the broker saw the keys' messages in order (a retry may repeat one; order holds for first sightings).
        assertKeyOrder(arrivals.snapshot());
    }

    @Test
    void statusReportsUnsentMessagesAndTheirAge() throws Exception {
        JdbcTransport db = database("postgres");
        Outbox outbox = Outbox.builder(db).build();
        assertThat(outbox.status("nowhere").unsent()).isZero();
        write(db, outbox, topic(), 0, 5);
        await().atMost(Duration.ofSeconds(5)).until(() -> outbox.status("rabbitmq").lag().toMillis() >= 200);
        OutboxStatus s = outbox.status("rabbitmq");
        assertThat(s.unsent()).isEqualTo(5);
        assertThat(s.sending()).isZero();
        assertThat(s.oldestDueAt()).isPresent();
        assertThat(s.parked()).isZero();
        assertThat(outbox.status()).extracting(OutboxStatus::destination).containsExactly("rabbitmq");
    }

    @Test
    void invalidNamesAndMissingDestinationsAreRefusedClearly() {
        JdbcTransport db = database("sqlite");
        Outbox outbox = Outbox.builder(db).build();
        assertThatThrownBy(() -> outbox.to("no spaces")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("destination");
        assertThatThrownBy(() -> outbox.relay().start()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("at least one destination");
        InMemoryTransport memory = later(InMemoryTransport.create());
        assertThatThrownBy(() -> outbox.relay().destination("a", memory.publisher()).destination("a", memory.publisher()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("twice");
    }

    static List<String> write(JdbcTransport db, Outbox outbox, String topic, int from, int to) throws SQLException {
        List<String> ids = new ArrayList<>();
        try (Connection tx = db.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            for (int i = from; i < to; i++) {
                Message m = Message.builder().key("k" + (i % 7)).header("seq", Integer.toString(i)).payload(("m" + i).getBytes()).build();
                outbox.to("rabbitmq").publish(tx, topic, m);
                ids.add(m.id());
            }
            tx.commit();
        }
        return ids;
    }

    static void assertKeyOrder(List<Message> arrived) {
        java.util.Map<String, Integer> last = new java.util.HashMap<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Message m : arrived) {
            if (!seen.add(m.id())) {
                continue;
            }
            int seq = Integer.parseInt(m.header("seq").orElseThrow());
            Integer previous = last.put(m.key().orElseThrow(), seq);
            assertThat(previous == null || previous < seq).as("key %s: %s after %s", m.key().get(), seq, previous).isTrue();
        }
    }
}
