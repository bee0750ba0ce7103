package io.courier.redis;

import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A consumer process for the SIGKILL test: subscribes, prints {@code GOT <payload>} for every
 * delivery and then hangs in the handler, so every entry it received stays pending until the
 * parent kills it.
 *
 * <p>Arguments: uri key-prefix topic group consumer-name in-flight.
 */
public final class ChildConsumerMain {

    private ChildConsumerMain() {
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        int inFlight = Integer.parseInt(args[5]);
        RedisStreamsTransport redis = RedisStreamsTransport.create(RedisConfig.builder().uri(args[0]).keyPrefix(args[1]).build());
        CountDownLatch never = new CountDownLatch(1);
        redis.subscriber().subscribe(SubscriptionOptions.builder(args[2], args[3]).consumerName(args[4])
                .concurrency(inFlight).maxInFlight(inFlight).leaseTimeout(Duration.ofMinutes(10)).build(), d -> {
            synchronized (System.out) {
                System.out.println("GOT " + d.message().payloadAsText());
                System.out.flush();
            }
            never.await();
        });
        System.out.println("READY");
        System.out.flush();
        never.await();
    }
}
