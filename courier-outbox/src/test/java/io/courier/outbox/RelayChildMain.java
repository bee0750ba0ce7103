package io.courier.outbox;

import io.courier.jdbc.JdbcTransport;
import io.courier.rabbitmq.RabbitMqTransport;
import java.time.Duration;

/**
 * A relay in a process of its own, for {@link OutboxCrashTest}: relays the outbox of the PostgreSQL
 * tables with prefix {@code args[0]} to RabbitMQ, prints {@code READY}, and runs until its standard
 * input closes (its parent died or closed it) or it is killed.
 */
public final class RelayChildMain {

    private RelayChildMain() {
    }

    public static void main(String[] args) throws Exception {
        try (JdbcTransport db = JdbcTransport.postgres(OutboxTestSupport.PG_URL, "postgres", "").tablePrefix(args[0]).build();
             RabbitMqTransport rabbit = OutboxTestSupport.rabbitTransport();
             OutboxRelay relay = Outbox.builder(db).build().relay().destination("rabbitmq", rabbit.publisher())
                     .leaseTimeout(Duration.ofSeconds(2)).concurrency(32).start()) {
            System.out.println("READY");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent
            }
        }
    }
}
