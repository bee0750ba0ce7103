package io.courier.testkit.idempotency;

import io.courier.IdempotencyStore;
import io.courier.IdempotencyStore.Claim;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The child process of the {@link IdempotencyStoreConformanceSuite}'s multi-process tests. It opens the
 * store with an {@link IdempotencyStoreFactory} (the class named by the first argument; the store
 * configuration comes as system properties {@value #CONFIG_PROPERTY_PREFIX}{@code <key>}), prints
 * {@code READY}, and then, in one of two modes:
 *
 * <ul>
 *   <li>{@code process <key prefix> <count>}: waits for its standard input to close (the parent's
 *       start signal, so that all children begin together), then claims the keys
 *       {@code <key prefix>0 .. <count - 1>} in a random order until each is done, printing
 *       {@code PROCESSED <key>} for each key it acquired and completed (or {@code LOST <key>} if its
 *       completion was refused) and {@code SKIPPED <key>} for each it found done; then
 *       {@code FINISHED} and exits.</li>
 *   <li>{@code hold <key> <lease millis>}: claims the key, prints {@code CLAIMED <token>} (or
 *       {@code NOT_ACQUIRED <claim>}) and blocks, waiting to be killed; it exits by itself when its
 *       standard input closes, so it never outlives a parent that died without killing it.</li>
 * </ul>
 */
public final class IdempotencyWorkerMain {

    /** Prefix of the system properties that carry the store configuration. */
    public static final String CONFIG_PROPERTY_PREFIX = "courier.idempotency.store.";
    /** Lease of each claim in {@code process} mode: far longer than the test. */
    static final Duration PROCESS_LEASE = Duration.ofMinutes(2);
    /** Retention of each completed key in {@code process} mode. */
    static final Duration PROCESS_RETENTION = Duration.ofHours(1);

    private IdempotencyWorkerMain() {
    }

    /** The system properties that hand {@code config} to a child. */
    static Map<String, String> systemProperties(Map<String, String> config) {
        Map<String, String> properties = new HashMap<>();
        config.forEach((k, v) -> properties.put(CONFIG_PROPERTY_PREFIX + k, v));
        return properties;
    }

    /** Runs one mode; see the class description. */
    public static void main(String[] args) throws Exception {
        if (args.length != 4 || !List.of("process", "hold").contains(args[1])) {
            throw new IllegalArgumentException("usage: IdempotencyWorkerMain <IdempotencyStoreFactory class> "
                    + "(process <key prefix> <count> | hold <key> <lease millis>), but got " + List.of(args));
        }
        Map<String, String> config = new HashMap<>();
        System.getProperties().stringPropertyNames().stream()
                .filter(name -> name.startsWith(CONFIG_PROPERTY_PREFIX))
                .forEach(name -> config.put(name.substring(CONFIG_PROPERTY_PREFIX.length()), System.getProperty(name)));
        IdempotencyStoreFactory factory = (IdempotencyStoreFactory) Class.forName(args[0]).getConstructor().newInstance();
        IdempotencyStore store = factory.open(config);
        print("READY");
        if (args[1].equals("process")) {
            waitForEndOfInput(System.in);
            process(store, args[2], Integer.parseInt(args[3]));
            if (store instanceof AutoCloseable closeable) {
                closeable.close();
            }
            print("FINISHED");
            System.exit(0);
        }
        Claim claim = store.tryClaim(args[2], Duration.ofMillis(Long.parseLong(args[3])));
        print(claim instanceof Claim.Acquired acquired ? "CLAIMED " + acquired.token() : "NOT_ACQUIRED " + claim);
        waitForEndOfInput(System.in);
        // The parent is gone without killing us: leave at once, like the crash this process stands for.
        Runtime.getRuntime().halt(0);
    }

    private static void process(IdempotencyStore store, String prefix, int count) {
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            keys.add(prefix + i);
        }
        Collections.shuffle(keys, new Random(ProcessHandle.current().pid()));
        Deque<String> pending = new ArrayDeque<>(keys);
        while (!pending.isEmpty()) {
            String key = pending.poll();
            Claim claim = store.tryClaim(key, PROCESS_LEASE);
            if (claim instanceof Claim.Acquired acquired) {
                print((store.complete(key, acquired.token(), PROCESS_RETENTION) ? "PROCESSED " : "LOST ") + key);
            } else if (claim instanceof Claim.AlreadyDone) {
                print("SKIPPED " + key);
            } else {
                pending.add(key);   // another process holds it: look again after the others
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
        }
    }

    private static void print(String line) {
        System.out.println(line);
        System.out.flush();
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
