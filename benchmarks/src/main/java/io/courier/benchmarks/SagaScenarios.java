package io.courier.benchmarks;

import io.courier.Message;
import io.courier.Publisher;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.jdbc.JdbcTransport;
import io.courier.kafka.KafkaTransport;
import io.courier.outbox.Outbox;
import io.courier.outbox.OutboxRelay;
import io.courier.rabbitmq.RabbitMqConfig;
import io.courier.rabbitmq.RabbitMqTransport;
import io.courier.saga.SagaDefinition;
import io.courier.saga.SagaOrchestrator;
import io.courier.saga.SagaParticipant;
import io.courier.saga.SagaReply;
import io.courier.saga.SagaStep;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;

/**
 * Four-step sagas: three commands answered by in-process participants (on the saga store's SQL
 * transport, or on RabbitMQ or Kafka through the outbox) and a last local step. A "message" of the
 * harness is one saga: publishing starts a batch of sagas in one transaction, and the consumer hears
 * of a saga when its last step runs, so the end-to-end rate is completed sagas per second and the
 * latency is the saga's duration. The reference chains the same four steps by hand on the same
 * transport: each step's handler publishes the next step's message, with no saga state at all.
 */
final class SagaScenarios {

    /** One starter of 5 sagas per transaction: completed sagas run in the hundreds per second, and the backlog must drain within 120 s. */
    static final int PUBLISHERS = 1;
    static final int BATCH = 5;
    static final int CONCURRENCY = 8;

    private SagaScenarios() {
    }

    /** The saga's data: the harness's payload, which carries its send time. */
    public record Job(String payload) {
    }

    static List<Scenario> scenarios() {
        List<Scenario> all = new ArrayList<>();
        all.add(scenario("saga-sqlite", "sqlite", null));
        all.add(scenario("saga-postgres", "postgres", null));
        all.add(scenario("saga-postgres-rabbitmq", "postgres", "rabbitmq"));
        all.add(scenario("saga-postgres-kafka", "postgres", "kafka"));
        return all;
    }

    private static Scenario scenario(String name, String db, String broker) {
        String where = broker == null ? "participants on the " + db + " SQL transport" : "participants on " + broker
                + " (commands through the outbox)";
        return new Scenario(name, "four-step sagas in " + db + ", " + where + ", " + PUBLISHERS + " starters x " + BATCH
                + " sagas per transaction", "the four steps chained by hand on the same transport, no saga state", 16,
                PUBLISHERS, BATCH, runId -> open(db, runId, store -> new Sagas(store, broker == null ? null : broker(broker, runId))),
                runId -> open(db, runId, store -> new Chain(broker == null ? store : broker(broker, runId), broker == null)), 200);
    }

    private static Transport broker(String broker, String runId) {
        return switch (broker) {
            case "rabbitmq" -> RabbitMqTransport.connect(RabbitMqConfig.builder().host(RabbitMqScenarios.HOST)
                    .port(RabbitMqScenarios.PORT).credentials(RabbitMqScenarios.USER, RabbitMqScenarios.PASSWORD)
                    .connectionName("courier-bench-saga").build());
            case "kafka" -> KafkaTransport.create(KafkaScenarios.config());
            default -> throw new IllegalArgumentException(broker);
        };
    }

    @FunctionalInterface
    private interface OnStore {
        Pipeline create(JdbcTransport store) throws Exception;
    }

    private static Pipeline open(String db, String runId, OnStore pipeline) throws Exception {
        if (db.equals("sqlite")) {
            JdbcScenarios.TempDirectory dir = JdbcScenarios.TempDirectory.create(runId);
            JdbcTransport store = JdbcTransport.sqlite(dir.path().resolve("sagas.db")).build();
            return JdbcScenarios.closing(pipeline.create(store), () -> {
                try (dir; store) {
                    // closed in this order: the transport, then its directory
                }
            });
        }
        JdbcScenarios.PostgresSchema schema = JdbcScenarios.PostgresSchema.create("bench_saga_" + runId);
        JdbcTransport store = JdbcTransport.postgres(schema.url(), JdbcScenarios.POSTGRES_USER, "").tablePrefix("bench_").build();
        return JdbcScenarios.closing(pipeline.create(store), () -> {
            try (schema; store) {
                // closed in this order: the transport, then its schema
            }
        });
    }

    private static SubscriptionOptions options(String topic) {
        return SubscriptionOptions.builder(topic, "bench").concurrency(CONCURRENCY).maxInFlight(200).build();
    }

    /** Courier's sagas. */
    private static final class Sagas implements Pipeline {
        private final JdbcTransport store;
        private final Transport broker;
        private final List<Subscription> participants = new ArrayList<>();
        private SagaDefinition<Job> saga;
        private SagaOrchestrator orchestrator;
        private OutboxRelay relay;

        Sagas(JdbcTransport store, Transport broker) {
            this.store = store;
            this.broker = broker;
        }

        @Override
        public void start(Consumer<byte[]> onMessage) {
            String destination = broker == null ? null : "broker";
            Transport participantsOn = broker == null ? store : broker;
            Publisher replies = participantsOn.publisher();
            for (String topic : List.of("bench.reserve", "bench.charge", "bench.ship")) {
                participants.add(participantsOn.subscriber().subscribe(options(topic),
                        SagaParticipant.of(replies, command -> SagaReply.success())));
            }
            SagaDefinition.Builder<Job> b = SagaDefinition.builder("bench", Job.class);
            for (String step : List.of("reserve", "charge", "ship")) {
                b.step(SagaStep.<Job>named(step).command(destination, "bench." + step, j -> j.payload()));
            }
            saga = b.step(SagaStep.<Job>named("done").local((j, tx) -> {
                onMessage.accept(Base64.getDecoder().decode(j.payload()));
                return j;
            })).build();
            SagaOrchestrator.Builder ob = SagaOrchestrator.builder(store).saga(saga).replyConcurrency(CONCURRENCY);
            if (broker != null) {
                Outbox outbox = Outbox.builder(store).build();
                ob.outbox(outbox).replies(broker.subscriber());
                relay = outbox.relay().destination("broker", broker.publisher()).concurrency(128).start();
            }
            orchestrator = ob.start();
        }

        @Override
        public void publish(List<byte[]> batch) throws Exception {
            try (Connection tx = store.dataSource().getConnection()) {
                tx.setAutoCommit(false);
                for (byte[] b : batch) {
                    orchestrator.begin(tx, saga, new Job(Base64.getEncoder().encodeToString(b)));
                }
                tx.commit();
            }
        }

        @Override
        public void close() throws Exception {
            if (orchestrator != null) {
                orchestrator.close();
            }
            if (relay != null) {
                relay.close();
            }
            participants.forEach(Subscription::close);
            if (broker != null) {
                broker.close();
            }
        }
    }

    /** The same four steps chained by hand: each handler publishes the next step's message and waits for it. */
    private static final class Chain implements Pipeline {
        private final Transport transport;
        private final boolean sharedStore;
        private final List<Subscription> steps = new ArrayList<>();
        private final String prefix = "chain-" + java.util.UUID.randomUUID().toString().substring(0, 8) + ".";

        Chain(Transport transport, boolean sharedStore) {
            this.transport = transport;
            this.sharedStore = sharedStore;
        }

        @Override
        public void start(Consumer<byte[]> onMessage) {
            List<String> topics = List.of(prefix + "reserve", prefix + "charge", prefix + "ship", prefix + "done");
            for (int i = 0; i < topics.size(); i++) {
                String next = i + 1 < topics.size() ? topics.get(i + 1) : null;
                steps.add(transport.subscriber().subscribe(options(topics.get(i)), d -> {
                    if (next == null) {
                        onMessage.accept(d.message().payload());
                    } else {
                        transport.publisher().publish(next, Message.of(d.message().payload())).join();
                    }
                }));
            }
        }

        @Override
        public void publish(List<byte[]> batch) {
            List<Message> messages = new ArrayList<>(batch.size());
            for (byte[] b : batch) {
                messages.add(Message.of(b));
            }
            transport.publisher().publishAll(prefix + "reserve", messages).join();
        }

        @Override
        public void close() {
            steps.forEach(Subscription::close);
            if (!sharedStore) {
                transport.close();
            }
        }
    }
}
