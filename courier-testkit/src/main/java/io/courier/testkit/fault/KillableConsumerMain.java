package io.courier.testkit.fault;

import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import io.courier.Transport;
import io.courier.testkit.TransportFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * The main class of a child JVM that consumes slowly so that its parent can kill it with SIGKILL
 * in the middle of handling a message.
 *
 * <p>It builds a transport with a {@link TransportFactory} loaded by class name, subscribes one
 * handler, and reports on standard output, one line each, flushed at once:
 * <ul>
 *   <li>{@code READY}: the subscription is registered (its group exists);</li>
 *   <li>{@code STARTED <id>}: the handler began work on message {@code <id>};</li>
 *   <li>{@code HANDLED <id>}: the handler finished its work and is about to return, so the message
 *       is acknowledged next (a kill between this line and the acknowledgement yields a duplicate,
 *       which at-least-once permits).</li>
 * </ul>
 * Each message takes {@code --work} to handle. The process exits when its standard input closes (the
 * parent is gone) or after {@code --max-lifetime}, so it never outlives the test.
 *
 * <p>Arguments are {@code --name=value} pairs, built with {@link Args#toArgs()}; system properties
 * starting with {@value #CONFIG_PREFIX} become the factory's configuration (without the prefix).
 */
public final class KillableConsumerMain {

    /** Prefix of the system properties handed to the {@link TransportFactory} as its configuration. */
    public static final String CONFIG_PREFIX = "courier.testkit.config.";
    /** Printed once the subscription is registered. */
    public static final String READY = "READY";
    /** Prefix of the line printed when the handler starts on a message. */
    public static final String STARTED = "STARTED ";
    /** Prefix of the line printed when the handler has finished its work on a message. */
    public static final String HANDLED = "HANDLED ";

    private KillableConsumerMain() {
    }

    /**
     * Runs the consumer; see the class documentation for the arguments and the output.
     *
     * @throws Exception if the factory or the subscription fails (the JVM exits non-zero)
     */
    public static void main(String[] argv) throws Exception {
        Args args = Args.parse(argv);
        PrintStream out = System.out;
        TransportFactory factory = (TransportFactory) Class.forName(args.factoryClass())
                .getDeclaredConstructor().newInstance();
        Transport transport = factory.create(config(System.getProperties()));
        SubscriptionOptions options = SubscriptionOptions.builder(args.topic(), args.group())
                .concurrency(args.concurrency())
                .leaseTimeout(args.leaseTimeout())
                .build();
        Subscription subscription = transport.subscriber().subscribe(options, delivery -> {
            String id = delivery.message().id();
            println(out, STARTED + id);
            Thread.sleep(args.work().toMillis());   // the slow work the parent kills us in the middle of
            println(out, HANDLED + id);
        });
        println(out, READY);
        waitForParentOrLifetime(System.in, args.maxLifetime());
        // Reached only when the parent let us live: close gracefully and go.
        subscription.close(Duration.ofSeconds(5));
        transport.close();
        System.exit(0);
    }

    private static synchronized void println(PrintStream out, String line) {
        out.println(line);
        out.flush();
    }

    /** Blocks until standard input reaches end-of-file (parent gone) or {@code lifetime} passed. */
    private static void waitForParentOrLifetime(InputStream stdin, Duration lifetime) throws InterruptedException {
        Thread watcher = new Thread(() -> {
            try {
                while (stdin.read() >= 0) {
                    // ignore anything the parent writes; only end-of-file matters
                }
            } catch (IOException e) {
                // broken pipe: the parent is gone too
            }
        }, "parent-watcher");
        watcher.setDaemon(true);
        watcher.start();
        watcher.join(lifetime.toMillis());
    }

    static Map<String, String> config(Properties properties) {
        Map<String, String> config = new HashMap<>();
        for (String name : properties.stringPropertyNames()) {
            if (name.startsWith(CONFIG_PREFIX)) {
                config.put(name.substring(CONFIG_PREFIX.length()), properties.getProperty(name));
            }
        }
        return config;
    }

    /**
     * The consumer's arguments.
     *
     * @param factoryClass class name of a public {@link TransportFactory} with a no-arg constructor
     * @param topic        topic to consume
     * @param group        consumer group
     * @param concurrency  handlers running at once
     * @param leaseTimeout the subscription's lease timeout: how soon the parent sees redelivery after the kill
     * @param work         how long each message takes to handle
     * @param maxLifetime  the process exits after this long even if nobody killed it
     */
    public record Args(String factoryClass, String topic, String group, int concurrency, Duration leaseTimeout,
                       Duration work, Duration maxLifetime) {

        /** Validates. */
        public Args {
            Objects.requireNonNull(factoryClass, "factoryClass");
            Objects.requireNonNull(topic, "topic");
            Objects.requireNonNull(group, "group");
            if (concurrency < 1) {
                throw new IllegalArgumentException("concurrency must be >= 1, but was " + concurrency);
            }
            Objects.requireNonNull(leaseTimeout, "leaseTimeout");
            Objects.requireNonNull(work, "work");
            Objects.requireNonNull(maxLifetime, "maxLifetime");
        }

        /** The command-line form, {@code --name=value} pairs. */
        public List<String> toArgs() {
            List<String> a = new ArrayList<>();
            a.add("--factory=" + factoryClass);
            a.add("--topic=" + topic);
            a.add("--group=" + group);
            a.add("--concurrency=" + concurrency);
            a.add("--lease=" + leaseTimeout.toMillis());
            a.add("--work=" + work.toMillis());
            a.add("--max-lifetime=" + maxLifetime.toMillis());
            return a;
        }

        /**
         * Parses the command-line form; durations are milliseconds.
         *
         * @throws IllegalArgumentException naming a missing or malformed argument
         */
        public static Args parse(String[] argv) {
            Map<String, String> values = new HashMap<>();
            for (String arg : argv) {
                int eq = arg.indexOf('=');
                if (!arg.startsWith("--") || eq < 0) {
                    throw new IllegalArgumentException("arguments must look like --name=value, but got '" + arg + "'");
                }
                values.put(arg.substring(2, eq), arg.substring(eq + 1));
            }
            return new Args(required(values, "factory"), required(values, "topic"), required(values, "group"),
                    Integer.parseInt(values.getOrDefault("concurrency", "1")),
                    Duration.ofMillis(Long.parseLong(values.getOrDefault("lease", "2000"))),
                    Duration.ofMillis(Long.parseLong(values.getOrDefault("work", "200"))),
                    Duration.ofMillis(Long.parseLong(values.getOrDefault("max-lifetime", "300000"))));
        }

        private static String required(Map<String, String> values, String name) {
            String v = values.get(name);
            if (v == null || v.isBlank()) {
                throw new IllegalArgumentException("missing argument --" + name + "=...");
            }
            return v;
        }
    }
}
