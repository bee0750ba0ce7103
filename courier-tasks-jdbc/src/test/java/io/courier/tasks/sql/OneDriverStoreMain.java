package io.courier.tasks.sql;

import io.courier.MissingDependencyException;
import io.courier.tasks.Task;
import io.courier.tasks.TaskClient;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Runs in a child JVM whose classpath lacks one of the two drivers ({@link OptionalDriversTest}).
 * Prints one line {@code RESULT <result>}: {@code OK ...}, {@code CAUGHT <exception class> <message>} for an expected
 * Courier exception, or {@code FAILED <throwable>} for anything else. Modes: {@code postgres <url> <user>},
 * {@code postgres-unreachable <url>} and {@code sqlite <file>} enqueue, claim and complete one task.
 */
public final class OneDriverStoreMain {

    private OneDriverStoreMain() {
    }

    public static void main(String[] args) {
        try {
            System.out.println("RESULT " + run(args));
        } catch (TaskStoreException | MissingDependencyException e) {
            System.out.println("RESULT CAUGHT " + e.getClass().getSimpleName() + " " + e.getMessage());
        } catch (Throwable e) {
            System.out.println("RESULT FAILED " + e);
            e.printStackTrace();
        }
        System.out.flush();
    }

    private static String run(String[] args) {
        return switch (args[0]) {
            case "postgres" -> roundTrip(SqlTaskStore.postgres(args[1], args[2], ""));
            case "postgres-unreachable" -> roundTrip(SqlTaskStore.postgres(args[1], "nobody", ""));
            case "sqlite" -> roundTrip(SqlTaskStore.sqlite(Path.of(args[1])));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        };
    }

    private static String roundTrip(SqlTaskStore store) {
        try {
            TaskInfo enqueued = TaskClient.create(store).enqueue(Task.ofText("greet", "hello"));
            List<ClaimedTask> claimed = store.claim(TaskOptions.DEFAULT_QUEUE, 1, "worker-1", Instant.now(),
                    Duration.ofSeconds(30));
            boolean completed = store.complete(new Lease(enqueued.id(), claimed.get(0).leaseToken()), Instant.now());
            return "OK " + store.name() + " claimed " + claimed.get(0).info().id().equals(enqueued.id())
                    + " completed " + completed;
        } finally {
            store.close();
        }
    }
}
