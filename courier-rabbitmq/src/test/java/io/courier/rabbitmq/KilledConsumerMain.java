package io.courier.rabbitmq;

import java.util.concurrent.CountDownLatch;

/**
 * A consumer that runs in a child JVM for {@link ConsumerKilledTest}: subscribes to {@code args[0]}
 * as group {@code args[1]}, prints {@code READY}, and for each delivery prints {@code STARTED <id>}
 * and then blocks, so the parent can kill it with SIGKILL mid-message.
 */
public final class KilledConsumerMain {

    private KilledConsumerMain() {
    }

    /** Entry point: {@code <topic> <group>}. */
    public static void main(String[] args) throws Exception {
        RabbitMqTransport transport = RabbitMqTransport.connect(RabbitBroker.config().connectionName("courier-test-child").build());
        CountDownLatch never = new CountDownLatch(1);
        transport.subscriber().subscribe(args[0], args[1], d -> {
            System.out.println("STARTED " + d.message().id());
            System.out.flush();
            never.await();
        });
        System.out.println("READY");
        System.out.flush();
        never.await();
    }
}
