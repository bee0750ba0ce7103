package io.courier.redis;

import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A key-ordered consumer process for {@link RedisKeyOrderingTest}: prints {@code GOT <payload>} for
 * every delivery and then hangs in the handler, so what it holds stays pending until the parent kills
 * it. Exits by itself when its standard input closes (the parent died).
 *
 * <p>Arguments: uri key-prefix topic group consumer-name max-in-flight.
 */
public final class KeyOrderedChildMain {

    private KeyOrderedChildMain() {
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        int inFlight = Integer.parseInt(args[5]);
        RedisStreamsTransport redis = RedisStreamsTransport.create(RedisConfig.builder().uri(args[0]).keyPrefix(args[1])
                .keyOrdering(true).build());
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
        while (System.in.read() >= 0) {
            // the parent holds the pipe open while it lives
        }
        System.exit(0);
    }
}
