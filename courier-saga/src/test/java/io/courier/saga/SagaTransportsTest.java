package io.courier.saga;

import static io.courier.saga.OrderSaga.count;
import static io.courier.saga.SagaTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Transport;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.KafkaTransport;
import io.courier.outbox.Outbox;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.RabbitMqTransport;
import io.courier.redis.RedisConfig;
import io.courier.redis.RedisStreamsTransport;
import io.courier.saga.OrderSaga.Order;
import io.courier.testkit.KafkaBroker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The same order saga with its participants on RabbitMQ, Kafka and Redis Streams: commands leave
 * the saga store (PostgreSQL) through the outbox, participants reply over the broker.
 */
@ExtendWith(KafkaBroker.class)
class SagaTransportsTest extends SagaTestBase {

    private static Transport broker(String name) {
        String unique = UUID.randomUUID().toString().substring(0, 8);
        return switch (name) {
            case "rabbitmq" -> RabbitMqTransport.connect(RabbitMqConfig.builder().host("127.0.0.1").port(5672)
                    .credentials("guest", "guest").connectionName("courier-saga-test").build());
            case "kafka" -> KafkaTransport.create(KafkaConfig.builder().bootstrapServers(KafkaBroker.bootstrapServers())
                    .clientId("courier-saga-test").partitions(3).commitInterval(Duration.ofMillis(200)).build());
            case "redis" -> RedisStreamsTransport.create(RedisConfig.builder().keyPrefix("courier-saga-test:" + unique + ":").build());
            default -> throw new IllegalArgumentException(name);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"rabbitmq", "kafka", "redis"})
    void participantsOnABrokerCompleteAndCompensateSagas(String name) throws Exception {
        JdbcTransport db = database("postgres");
        OrderSaga.createTables(db, prefix);
        Transport broker = later(broker(name));
        Outbox outbox = Outbox.builder(db).build();
        SagaDefinition<Order> saga = OrderSaga.definition("broker", prefix, Duration.ofSeconds(60), TimeoutAction.RETRY);
        for (var s : OrderSaga.participants(broker.subscriber(), db, broker.publisher(), prefix, true)) {
            later(s::close);
        }
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).outbox(outbox).saga(saga).replies(broker.subscriber()).start());
        later(outbox.relay().destination("broker", broker.publisher()).start());

        String run = UUID.randomUUID().toString().substring(0, 8);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            long amount = i == 5 ? 5_000 : 100;         // the last one is declined
            ids.add(OrderSaga.place(sagas, saga, db, prefix, new Order(run + "-" + i, "sku-1", 1, amount, null)));
        }
        await().atMost(Duration.ofSeconds(120)).until(() -> sagas.operations().count("order", SagaState.COMPLETED) == 5
                && sagas.operations().count("order", SagaState.COMPENSATED) == 1);
        assertThat(sagas.operations().find(ids.get(5)).orElseThrow().state()).isEqualTo(SagaState.COMPENSATED);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "reservations")).isEqualTo(6);
        assertThat(count(db, "SELECT SUM(released) FROM " + prefix + "reservations")).isEqualTo(1);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "charges")).isEqualTo(5);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "notifications")).isEqualTo(5);
        assertThat(count(db, "SELECT qty FROM " + prefix + "stock")).isEqualTo(1_000_000 - 5);
        assertThat(outbox.parked().count()).isZero();
    }
}
