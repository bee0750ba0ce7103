package io.courier.examples.quickstart;

import io.courier.Delivery;
import io.courier.Headers;
import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.memory.InMemoryTransport;
import io.courier.middleware.DeadLetterMiddleware;
import io.courier.middleware.RecoveryMiddleware;
import io.courier.middleware.RetryMiddleware;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Courier in one file: publish a few thousand orders, consume them through a router with recovery,
 * retry and dead-letter middleware, and watch a deliberately broken order end up in the dead-letter
 * topic with the reason in its headers.
 *
 * <p>Run it with {@code scripts/quickstart} (optionally {@code scripts/quickstart 20000} for more
 * messages).
 */
public final class Quickstart {

    /** The payload of an order message. */
    public record OrderPlaced(long orderNo, String customer, long amountCents) {
    }

    private Quickstart() {
    }

    /** Entry point; the optional first argument is the number of orders to publish (default 5,000). */
    public static void main(String[] args) throws Exception {
        int count = args.length > 0 && !args[0].isBlank() ? Integer.parseInt(args[0].trim()) : 5_000;
        try (Transport transport = InMemoryTransport.create()) {
            run(transport, count);
        }
    }

    static void run(Transport transport, int count) throws Exception {
        System.out.printf("Courier quickstart on the '%s' transport: %,d orders, one of them broken%n", transport.name(), count);

        AtomicLong handled = new AtomicLong();
        AtomicLong attemptsOnBroken = new AtomicLong();
        List<Message> deadLetters = new CopyOnWriteArrayList<>();
        long brokenOrderNo = count / 2;

        try (Router router = Router.builder(transport)
                .use(new RecoveryMiddleware())                        // outermost: nothing escapes
                .use(DeadLetterMiddleware.to(transport.publisher()))  // after the last attempt: orders.dlq
                .use(RetryMiddleware.builder()
                        .maxAttempts(3)
                        .initialDelay(Duration.ofMillis(50))
                        .build())
                .build()) {

            router.route(SubscriptionOptions.builder("orders", "billing").concurrency(4).build(),
                    OrderPlaced.class, (order, delivery) -> {
                        if (order.amountCents() < 0) {
                            attemptsOnBroken.incrementAndGet();
                            throw new IllegalArgumentException("amount must not be negative, but was " + order.amountCents());
                        }
                        handled.incrementAndGet();
                    });
            router.route("orders.dlq", "operations", (Delivery d) -> deadLetters.add(d.message()));
            router.start();

            long startNanos = System.nanoTime();
            List<Message> batch = new ArrayList<>(500);
            for (long i = 1; i <= count; i++) {
                long amount = i == brokenOrderNo ? -100 : 1_000 + i;
                OrderPlaced order = new OrderPlaced(i, "customer-" + (i % 97), amount);
                batch.add(Message.builder()
                        .key(order.customer())
                        .header(Headers.CONTENT_TYPE, router.codec().contentType())
                        .header(Headers.EVENT_TYPE, "order.placed")
                        .payload(router.codec().encode(order))
                        .build());
                if (batch.size() == 500 || i == count) {
                    router.publisher().publishAll("orders", batch).get(30, TimeUnit.SECONDS);
                    batch.clear();
                }
            }
            double publishSecs = seconds(startNanos);
            System.out.printf(Locale.ROOT, "published %,d messages in %.2f s (%,.0f msg/s)%n", count, publishSecs, count / publishSecs);

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while ((handled.get() < count - 1 || deadLetters.isEmpty()) && System.nanoTime() < deadline) {
                Thread.sleep(10);   // a progress wait in a demo program, not a test
            }
            double totalSecs = seconds(startNanos);
            System.out.printf(Locale.ROOT, "handled   %,d messages in %.2f s end to end (%,.0f msg/s)%n",
                    handled.get(), totalSecs, handled.get() / totalSecs);

            if (deadLetters.isEmpty()) {
                System.out.println("ERROR: the broken order was not dead-lettered within 60 s");
                System.exit(1);
            }
            Message dead = deadLetters.get(0);
            System.out.printf("dead-lettered order #%d after %d attempts -> topic 'orders.dlq'%n", brokenOrderNo, attemptsOnBroken.get());
            for (String h : List.of(Headers.ORIGINAL_TOPIC, Headers.DEAD_LETTER_REASON, Headers.ATTEMPTS,
                    Headers.EXCEPTION_CLASS, Headers.EXCEPTION_MESSAGE, Headers.FIRST_FAILURE_AT, Headers.LAST_FAILURE_AT)) {
                System.out.printf("  %-28s %s%n", h, dead.header(h).orElse("-"));
            }
            System.out.println("  payload                      " + dead.payloadAsText());
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
