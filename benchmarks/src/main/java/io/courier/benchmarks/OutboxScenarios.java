package io.courier.benchmarks;

import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaTransport;
import io.courier.outbox.Outbox;
import io.courier.outbox.OutboxRelay;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.RabbitMqTransport;
import io.courier.redis.RedisConfig;
import io.courier.redis.RedisStreamsTransport;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The transactional outbox: each publish is one database transaction (SQLite or PostgreSQL) that
 * writes the batch into the outbox and commits; the relay sends the messages to the broker; a
 * Courier consumer on the broker receives them. The reference is the same broker's raw client
 * publishing the same batches directly, with its raw consumer (the {@code <broker>-e2e-*}
 * scenario's reference), so the ratio is relayed / direct, end to end: commit to consumer.
 */
final class OutboxScenarios {

    /** One writer of 10 per transaction: the relay drains a few thousand a second, and the backlog must drain within the harness's 120 s. */
    static final int PUBLISHERS = 1;
    static final int BATCH = 10;
    static final int RELAY_CONCURRENCY = 256;
    static final int CONSUMER_CONCURRENCY = 4;
    static final String TOPIC = "bench-outbox";

    private OutboxScenarios() {
    }

    static List<Scenario> scenarios(Map<String, Scenario> direct) {
        List<Scenario> all = new ArrayList<>();
        for (String db : List.of("postgres", "sqlite")) {
            for (String broker : List.of("kafka", "rabbitmq", "redis")) {
                Scenario reference = direct.get(broker + "-e2e-100b");
                if (reference == null) {
                    continue;
                }
                all.add(new Scenario("outbox-" + db + "-" + broker, "outbox in " + db + " relayed to " + broker
                        + ", 100-byte payloads, " + PUBLISHERS + " writers x " + BATCH + " per transaction, relay concurrency "
                        + RELAY_CONCURRENCY, reference.reference() + " publishing directly", 100, PUBLISHERS, BATCH,
                        runId -> pipeline(db, broker, runId), reference.raw(), reference.maxLatencyRate()));
            }
        }
        return all;
    }

    private static Pipeline pipeline(String db, String broker, String runId) throws Exception {
        Function<String, Transport> destination = switch (broker) {
            case "kafka" -> id -> KafkaTransport.create(KafkaScenarios.config());
            case "rabbitmq" -> id -> RabbitMqTransport.connect(RabbitMqConfig.builder().host(RabbitMqScenarios.HOST)
                    .port(RabbitMqScenarios.PORT).credentials(RabbitMqScenarios.USER, RabbitMqScenarios.PASSWORD)
                    .connectionName("courier-bench-outbox").build());
            case "redis" -> id -> RedisStreamsTransport.create(RedisConfig.builder().uri(RedisScenarios.URI)
                    .keyPrefix("bench-outbox-" + id + ":").build());
            default -> throw new IllegalArgumentException(broker);
        };
        if (db.equals("sqlite")) {
            JdbcScenarios.TempDirectory dir = JdbcScenarios.TempDirectory.create(runId);
            return JdbcScenarios.closing(new Relayed(JdbcTransport.sqlite(dir.path().resolve("outbox.db")).build(),
                    destination.apply(runId), broker, runId), dir);
        }
        JdbcScenarios.PostgresSchema schema = JdbcScenarios.PostgresSchema.create("bench_outbox_" + runId);
        return JdbcScenarios.closing(new Relayed(JdbcTransport.postgres(schema.url(), JdbcScenarios.POSTGRES_USER, "")
                .tablePrefix("bench_").build(), destination.apply(runId), broker, runId), schema);
    }

    /** Writes through the outbox, relays, consumes with Courier on the broker. */
    private static final class Relayed implements Pipeline {
        private final JdbcTransport db;
        private final Transport broker;
        private final String destination;
        private final String topic;
        private final Outbox outbox;
        private Subscription consumer;
        private OutboxRelay relay;

        Relayed(JdbcTransport db, Transport broker, String destination, String runId) {
            this.db = db;
            this.broker = broker;
            this.destination = destination;
            this.topic = TOPIC + "-" + runId;
            this.outbox = Outbox.builder(db).build();
        }

        @Override
        public void start(Consumer<byte[]> onMessage) {
            consumer = broker.subscriber().subscribe(SubscriptionOptions.builder(topic, "g").concurrency(CONSUMER_CONCURRENCY)
                    .maxInFlight(2000).build(), d -> onMessage.accept(d.message().payload()));
            relay = outbox.relay().destination(destination, broker.publisher()).concurrency(RELAY_CONCURRENCY).start();
        }

        @Override
        public void publish(List<byte[]> batch) throws Exception {
            List<Message> messages = new ArrayList<>(batch.size());
            for (int i = 0; i < batch.size(); i++) {
                messages.add(Message.builder().key("k" + (i % 64)).payload(batch.get(i)).build());
            }
            try (Connection tx = db.dataSource().getConnection()) {
                tx.setAutoCommit(false);
                outbox.to(destination).publishAll(tx, topic, messages);
                tx.commit();
            }
        }

        @Override
        public void close() {
            try (db; broker) {
                if (relay != null) {
                    relay.close();
                }
                if (consumer != null) {
                    consumer.close();
                }
            }
        }
    }
}
