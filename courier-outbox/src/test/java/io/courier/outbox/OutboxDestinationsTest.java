package io.courier.outbox;

import static io.courier.outbox.OutboxTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaTransport;
import io.courier.outbox.OutboxTestSupport.Arrivals;
import io.courier.redis.RedisConfig;
import io.courier.redis.RedisStreamsTransport;
import io.courier.testkit.KafkaBroker;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** One PostgreSQL transaction, messages for Kafka, Redis Streams and another SQL database, one relay. */
@ExtendWith(KafkaBroker.class)
class OutboxDestinationsTest extends OutboxTestBase {

    @Test
    void oneTransactionFeedsKafkaRedisAndSqliteWithTheBrokersAcknowledgement() throws Exception {
        JdbcTransport db = database("postgres");
        KafkaTransport kafka = later(KafkaTransport.create(KafkaConfig.builder().bootstrapServers(KafkaBroker.bootstrapServers())
                .clientId("courier-outbox-test").partitions(3).commitInterval(Duration.ofMillis(200)).build()));
        RedisStreamsTransport redis = later(RedisStreamsTransport.create(RedisConfig.builder()
                .keyPrefix("courier-outbox-test:" + UUID.randomUUID() + ":").build()));
        JdbcTransport sqlite = later(JdbcTransport.sqlite(dir.resolve("other.db")).build());
        String topic = "outbox-dest-" + UUID.randomUUID();
        Arrivals fromKafka = later(new Arrivals(kafka, topic));
        Arrivals fromRedis = later(new Arrivals(redis, topic));
        Arrivals fromSqlite = later(new Arrivals(sqlite, topic));

        Outbox outbox = Outbox.builder(db).build();
        List<String> ids = new ArrayList<>();
        try (Connection tx = db.dataSource().getConnection()) {
            tx.setAutoCommit(false);
            for (int i = 0; i < 30; i++) {
                Message m = Message.builder().key("order-" + (i % 4)).header("seq", Integer.toString(i))
                        .payload(("{\"n\":" + i + "}").getBytes()).build();
                for (String d : List.of("kafka", "redis", "sqlite")) {
                    outbox.to(d).publish(tx, topic, m);
                }
                ids.add(m.id());
            }
            tx.commit();
        }
        later(outbox.relay().destination("kafka", kafka.publisher()).destination("redis", redis.publisher())
                .destination("sqlite", sqlite.publisher()).start());
        for (Arrivals a : List.of(fromKafka, fromRedis, fromSqlite)) {
            await().atMost(Duration.ofSeconds(60)).until(() -> a.ids().size() >= ids.size());
            assertThat(a.ids()).containsExactlyInAnyOrderElementsOf(ids);
            OutboxRelayTest.assertKeyOrder(a.snapshot());
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> outbox.status().stream().allMatch(s -> s.unsent() == 0));
        assertThat(outbox.status()).extracting(OutboxStatus::destination).containsExactly("kafka", "redis", "sqlite");
    }

}
