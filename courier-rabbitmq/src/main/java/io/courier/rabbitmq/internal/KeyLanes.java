package io.courier.rabbitmq.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs tasks on an executor so that tasks of one key run one after another, in submission order, and
 * tasks of different keys (or without a key) run concurrently. A task may be held until a given time
 * (a delayed message that arrived a little before it is due): it waits on the timer, occupying no
 * thread, and the later tasks of its key wait behind it. A key's lane exists only while it has work.
 * When the executor or the timer refuses a task (shutting down), that task and the rest of its lane
 * are dropped: their messages are still unacknowledged and return to the queue when the channel
 * closes. Thread-safe.
 */
final class KeyLanes {

    private final Executor executor;
    private final ScheduledExecutorService timer;
    /** Keys with a task running or held, each with the tasks waiting behind it. */
    private final Map<String, ArrayDeque<Held>> lanes = new HashMap<>();

    /** A task and when it may start (null: at once). */
    private record Held(Runnable task, Instant notBefore) {
    }

    /** Lanes running tasks on {@code executor}; held tasks wait on {@code timer}, whose tasks must be short. */
    KeyLanes(Executor executor, ScheduledExecutorService timer) {
        this.executor = executor;
        this.timer = timer;
    }

    /**
     * Runs {@code task} no earlier than {@code notBefore} (null: as soon as possible) and after every
     * earlier task of {@code key}; a null key runs it with no ordering.
     */
    void submit(String key, Instant notBefore, Runnable task) {
        Held held = new Held(task, notBefore);
        if (key != null) {
            synchronized (lanes) {
                ArrayDeque<Held> waiting = lanes.get(key);
                if (waiting != null) {
                    waiting.add(held);
                    return;
                }
                lanes.put(key, new ArrayDeque<>());
            }
        }
        start(key, held);
    }

    private void start(String key, Held held) {
        try {
            long holdNanos = held.notBefore() == null ? 0 : Duration.between(Instant.now(), held.notBefore()).toNanos();
            if (holdNanos > 0) {
                timer.schedule(() -> start(key, held), holdNanos, TimeUnit.NANOSECONDS);
            } else if (key == null) {
                executor.execute(held.task());
            } else {
                executor.execute(() -> {
                    try {
                        held.task().run();
                    } finally {
                        next(key);
                    }
                });
            }
        } catch (RejectedExecutionException e) {
            // shutting down: the message stays unacknowledged
            if (key != null) {
                synchronized (lanes) {
                    lanes.remove(key);
                }
            }
        }
    }

    private void next(String key) {
        Held held;
        synchronized (lanes) {
            ArrayDeque<Held> waiting = lanes.get(key);
            held = waiting == null ? null : waiting.poll();
            if (held == null) {
                lanes.remove(key);
                return;
            }
        }
        start(key, held);
    }

    /** Keys with a task running, held or waiting (for tests and diagnostics). */
    int activeKeys() {
        synchronized (lanes) {
            return lanes.size();
        }
    }
}
