package io.courier.tasks.internal;

import io.courier.tasks.Task;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.spi.NewTask;
import io.courier.tasks.spi.PeriodicTick;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;

/** Resolves a task and its options into the {@link NewTask} a store writes. */
public final class NewTasks {

    private NewTasks() {
    }

    /** Resolves ids, times and the unique key at {@code now}. */
    public static NewTask resolve(Task task, TaskOptions options, Instant now, Optional<PeriodicTick> tick) {
        Instant processAt = options.processAt()
                .or(() -> options.processIn().map(now::plus))
                .filter(at -> at.isAfter(now))
                .orElse(now);
        String id = options.taskId().orElseGet(() -> UUID.randomUUID().toString());
        byte[] payload = task.payload();
        Optional<String> uniqueKey = options.uniqueTtl().map(ttl -> uniqueKey(options.queue(), task.type(), payload));
        return new NewTask(id, options.queue(), task.type(), payload, options.maxRetry(), options.timeout(),
                options.deadline(), options.retention(), now, processAt, uniqueKey, options.uniqueTtl(), tick);
    }

    /** A hex SHA-256 of queue, type and payload: equal tasks in one queue share it. */
    public static String uniqueKey(String queue, String type, byte[] payload) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(queue.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(type.getBytes(StandardCharsets.UTF_8));
            sha.update((byte) 0);
            sha.update(payload);
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Millis of a duration, at least 1 (stores keep TTLs in milliseconds). */
    public static long positiveMillis(Duration d) {
        return Math.max(1, d.toMillis());
    }
}
