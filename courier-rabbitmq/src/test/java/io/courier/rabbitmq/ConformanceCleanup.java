package io.courier.rabbitmq;

import java.time.Duration;

/** Deletes the queues and exchanges a test run left on the shared broker. */
final class ConformanceCleanup {

    private ConformanceCleanup() {
    }

    /** Deletes every queue and exchange whose name starts with {@code prefix}, and their delay release queues. */
    static void deleteQueuesAndExchangesStartingWith(String prefix) {
        try (RabbitBroker broker = new RabbitBroker()) {
            for (String line : RabbitBroker.rabbitmqctl(Duration.ofSeconds(60), "list_queues", "-q", "--no-table-headers", "name")
                    .split("\n")) {
                String name = line.trim();
                if (name.startsWith(prefix) || name.startsWith("courier.delay.release." + prefix)) {
                    broker.track(name);
                }
            }
            for (String line : RabbitBroker.rabbitmqctl(Duration.ofSeconds(60), "list_exchanges", "-q", "--no-table-headers", "name")
                    .split("\n")) {
                String name = line.trim();
                if (name.startsWith(prefix)) {
                    broker.trackExchange(name);
                }
            }
        }
    }
}
