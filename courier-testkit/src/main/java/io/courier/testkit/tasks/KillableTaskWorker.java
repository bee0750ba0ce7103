package io.courier.testkit.tasks;

import io.courier.tasks.TaskServer;
import io.courier.tasks.spi.TaskStore;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The worker process of the {@link TaskStoreConformanceSuite}'s SIGKILL test: opens the store with a
 * {@link TaskStoreFactory}, serves the default queue, prints {@code STARTED <task id>} when a handler
 * starts and then blocks, waiting to be killed with SIGKILL. It exits by itself when its standard
 * input closes, so it never outlives a parent that died without killing it.
 *
 * <p>Arguments: the factory's class name, then the store configuration as {@code key=value} pairs.
 */
public final class KillableTaskWorker {

    /** Lease of the worker's server: short, so the parent recovers the task quickly. */
    public static final Duration LEASE = Duration.ofSeconds(1);

    private KillableTaskWorker() {
    }

    /** The arguments that make a worker open the store of {@code config} with {@code factory}. */
    static List<String> arguments(Class<? extends TaskStoreFactory> factory, Map<String, String> config) {
        List<String> args = new java.util.ArrayList<>();
        args.add(factory.getName());
        config.forEach((k, v) -> {
            if (k.contains("=")) {
                throw new IllegalArgumentException("store config keys must not contain '=', but got '" + k + "'");
            }
            args.add(k + "=" + v);
        });
        return args;
    }

    /** Runs until killed, or until standard input closes. */
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            throw new IllegalArgumentException("usage: KillableTaskWorker <TaskStoreFactory class> [key=value...]");
        }
        Map<String, String> config = new LinkedHashMap<>();
        for (String arg : Arrays.asList(args).subList(1, args.length)) {
            int eq = arg.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("expected key=value, but got '" + arg + "'");
            }
            config.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        TaskStoreFactory factory = (TaskStoreFactory) Class.forName(args[0]).getConstructor().newInstance();
        TaskStore store = factory.open(config);
        TaskServer.builder(store)
                .concurrency(1)
                .leaseDuration(LEASE)
                .heartbeatInterval(Duration.ofMillis(200))
                .pollInterval(Duration.ofMillis(50))
                .handler(ctx -> {
                    System.out.println("STARTED " + ctx.id());
                    System.out.flush();
                    new CountDownLatch(1).await();
                })
                .build()
                .start();
        System.out.println("READY");
        System.out.flush();
        waitForEndOfInput(System.in);
        // The parent is gone without killing us: leave at once, like the crash this process stands for.
        Runtime.getRuntime().halt(0);
    }

    private static void waitForEndOfInput(InputStream in) {
        try {
            while (in.read() >= 0) {
                // only end-of-file matters
            }
        } catch (IOException e) {
            // broken pipe: the parent is gone too
        }
    }
}
