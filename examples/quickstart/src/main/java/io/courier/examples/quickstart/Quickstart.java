package io.courier.examples.quickstart;

import io.courier.Delivery;
import io.courier.Headers;
import io.courier.JsonCodec;
import io.courier.Message;
import io.courier.Router;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.TypedPublisher;
import io.courier.jdbc.JdbcTransport;
import io.courier.jdbc.JdbcTransportException;
import io.courier.memory.InMemoryTransport;
import io.courier.middleware.DeadLetterMiddleware;
import io.courier.middleware.RecoveryMiddleware;
import io.courier.middleware.RetryMiddleware;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Courier in one file: publish a few thousand orders, consume them through a router with recovery,
 * retry and dead-letter middleware, and watch a deliberately broken order end up in the dead-letter
 * topic with the reason in its headers.
 *
 * <p>By default it runs on the embedded SQLite file {@code .courier/quickstart.db}: no server, and
 * what one run leaves behind (a summary message for the next run) is still there in the next.
 *
 * <pre>
 * scripts/quickstart                 5,000 orders on the embedded SQLite file
 * scripts/quickstart 20000           more orders
 * scripts/quickstart --db other.db   another database file (relative to where you run the script)
 * scripts/quickstart --memory        the in-memory transport (nothing kept)
 * scripts/quickstart --help          the options
 * </pre>
 */
public final class Quickstart {

    /** The payload of an order message. */
    public record OrderPlaced(long orderNo, String customer, long amountCents) {
    }

    /** What each run leaves for the next one, in topic {@value #HISTORY_TOPIC}. */
    public record RunSummary(int run, Instant finishedAt, long handled, long deadLettered, double endToEndPerSecond) {
    }

    static final String HISTORY_TOPIC = "quickstart.history";

    /** The system property holding the directory a relative {@code --db} path is relative to. */
    static final String CALLER_DIR_PROPERTY = "quickstart.callerDir";

    private Quickstart() {
    }

    /**
     * Entry point; see the class comment for the arguments. A relative {@code --db} path resolves
     * against the system property {@value #CALLER_DIR_PROPERTY} (set by {@code scripts/quickstart} to
     * the directory it was run from), else against the working directory. Exits with status 2 and
     * the usage line on a wrong command line, 1 when the database cannot be opened.
     */
    public static void main(String[] args) throws Exception {
        Options options;
        try {
            Path cwd = Path.of("").toAbsolutePath();
            Path callerDir = Path.of(System.getProperty(CALLER_DIR_PROPERTY, cwd.toString()));
            options = Options.parse(List.of(args), callerDir, cwd.resolve(Path.of(".courier", "quickstart.db")));
        } catch (Options.UsageException e) {
            System.err.println("quickstart: " + e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(2);
            return;
        }
        if (options.help()) {
            System.out.print(Options.HELP);
            return;
        }
        Transport transport;
        try {
            transport = options.db().isEmpty() ? InMemoryTransport.create() : JdbcTransport.sqlite(options.db().get()).build();
        } catch (JdbcTransportException e) {
            // The message says what is wrong with the file and what to do; a stack trace adds nothing.
            System.err.println("quickstart: " + e.getMessage());
            System.exit(1);
            return;
        }
        try (transport) {
            String where = options.memory() ? "in memory (nothing is kept)" : "in the embedded SQLite file " + options.db().get();
            System.out.printf("Courier quickstart on the '%s' transport, %s%n", transport.name(), where);
            run(transport, options.count(), !options.memory());
        }
    }

    /**
     * Publishes and handles {@code count} orders; when {@code persistent}, reads what earlier runs
     * left in the transport and leaves this run's summary for the next one.
     */
    static void run(Transport transport, int count, boolean persistent) throws Exception {
        RunSummary summary = handleOrders(transport, count, persistent);
        if (persistent) {
            // Published after the router closed, so that this run's history consumer does not take it:
            // it stays in the database for the next run.
            transport.publisher().publish(HISTORY_TOPIC, Message.of(JsonCodec.defaults().encode(summary))).get(30, TimeUnit.SECONDS);
        }
    }


    private static RunSummary handleOrders(Transport transport, int count, boolean persistent) throws Exception {
        AtomicLong handled = new AtomicLong();
        AtomicLong attemptsOnBroken = new AtomicLong();
        List<Message> deadLetters = new CopyOnWriteArrayList<>();
        List<RunSummary> earlierRuns = new CopyOnWriteArrayList<>();
        CountDownLatch historyRead = new CountDownLatch(1);
        String sentinelId = "sentinel-" + System.nanoTime();
        long brokenOrderNo = count / 2;

        try (Router router = Router.builder(transport)
                .use(new RecoveryMiddleware())                        // outermost: nothing escapes
                .use(DeadLetterMiddleware.to(transport.publisher()))  // after the last attempt: orders.dlq
                .use(RetryMiddleware.builder()
                        .maxAttempts(3)
                        .initialDelay(Duration.ofMillis(50))
                        .build())
                .build()) {

            // What earlier runs left behind (kept by the database between runs), then a sentinel of ours.
            router.route(SubscriptionOptions.builder(HISTORY_TOPIC, "quickstart").concurrency(1).build(), d -> {
                if (d.message().id().equals(sentinelId)) {
                    historyRead.countDown();
                } else if (!d.message().id().startsWith("sentinel-")) {
                    earlierRuns.add(router.codec().decode(d.message().payload(), RunSummary.class));
                }
            });
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

            router.publisher().publish(HISTORY_TOPIC, Message.builder().id(sentinelId).build()).get(30, TimeUnit.SECONDS);
            if (!historyRead.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("could not read the run history within 30 s");
            }
            int run = 1 + earlierRuns.stream().mapToInt(RunSummary::run).max().orElse(0);
            // In memory there is no earlier run to report, and no later run will find this one.
            if (persistent && earlierRuns.isEmpty()) {
                System.out.println("run #1 on this database (run it again: the next run finds this one's summary in it)");
            } else if (persistent) {
                System.out.printf("run #%d on this database; left in it by the run before:%n", run);
                for (RunSummary r : earlierRuns) {
                    System.out.printf(Locale.ROOT, "  run #%d finished %s: %,d handled, %d dead-lettered, %,.0f msg/s end to end%n",
                            r.run(), r.finishedAt(), r.handled(), r.deadLettered(), r.endToEndPerSecond());
                }
            }
            System.out.printf("publishing %,d orders, order #%d is broken (negative amount)%n", count, brokenOrderNo);

            // Encoded with the router's codec, keyed by customer (one customer's orders in order).
            TypedPublisher<OrderPlaced> orders = router.publisher(OrderPlaced.class, OrderPlaced::customer)
                    .withEventType("order.placed");
            long startNanos = System.nanoTime();
            List<OrderPlaced> batch = new ArrayList<>(500);
            for (long i = 1; i <= count; i++) {
                long amount = i == brokenOrderNo ? -100 : 1_000 + i;
                batch.add(new OrderPlaced(i, "customer-" + (i % 97), amount));
                if (batch.size() == 500 || i == count) {
                    orders.publishAll("orders", batch).get(30, TimeUnit.SECONDS);
                    batch.clear();
                }
            }
            double publishSecs = seconds(startNanos);
            System.out.printf(Locale.ROOT, "published %,d messages in %.2f s (%,.0f msg/s, each batch durable before the next)%n",
                    count, publishSecs, count / publishSecs);

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while ((handled.get() < count - 1 || deadLetters.isEmpty()) && System.nanoTime() < deadline) {
                Thread.sleep(10);   // a progress wait in a demo program, not a test
            }
            double totalSecs = seconds(startNanos);
            double rate = handled.get() / totalSecs;
            System.out.printf(Locale.ROOT, "handled   %,d messages in %.2f s end to end (%,.0f msg/s)%n", handled.get(), totalSecs, rate);

            if (deadLetters.isEmpty()) {
                System.out.println("ERROR: the broken order was not dead-lettered within 120 s");
                System.exit(1);
            }
            Message dead = deadLetters.get(0);
            System.out.printf("dead-lettered order #%d after %d attempts -> topic 'orders.dlq'%n", brokenOrderNo, attemptsOnBroken.get());
            for (String h : List.of(Headers.ORIGINAL_TOPIC, Headers.DEAD_LETTER_REASON, Headers.ATTEMPTS,
                    Headers.EXCEPTION_CLASS, Headers.EXCEPTION_MESSAGE, Headers.FIRST_FAILURE_AT, Headers.LAST_FAILURE_AT)) {
                System.out.printf("  %-28s %s%n", h, dead.header(h).orElse("-"));
            }
            System.out.println("  payload                      " + dead.payloadAsText());

            return new RunSummary(run, Instant.now(), handled.get(), deadLetters.size(), Math.round(rate));
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
