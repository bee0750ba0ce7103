package io.courier.rabbitmq.internal;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs tasks on an executor so that tasks of one key run one after another, in submission order, and
 * tasks of different keys (or without a key) run concurrently. A key's lane exists only while it has
 * work. When the executor refuses a task (it is shutting down), that task and the rest of its lane are
 * dropped: their messages are still unacknowledged and return to the queue when the channel closes.
 * Thread-safe.
 */
final class KeyLanes {

    private final Executor executor;
    /** Keys with a task running, each with the tasks waiting behind it. */
    private final Map<String, ArrayDeque<Runnable>> lanes = new HashMap<>();

    KeyLanes(Executor executor) {
        this.executor = executor;
    }

    /** Runs {@code task} after every earlier task of {@code key}; a null key runs it with no ordering. */
    void submit(String key, Runnable task) {
        if (key == null) {
            try {
                executor.execute(task);
            } catch (RejectedExecutionException e) {
                // shutting down: the message stays unacknowledged
            }
            return;
        }
        synchronized (lanes) {
            ArrayDeque<Runnable> waiting = lanes.get(key);
            if (waiting != null) {
                waiting.add(task);
                return;
            }
            lanes.put(key, new ArrayDeque<>());
        }
        start(key, task);
    }

    private void start(String key, Runnable task) {
        try {
            executor.execute(() -> {
                try {
                    task.run();
                } finally {
                    next(key);
                }
            });
        } catch (RejectedExecutionException e) {
            synchronized (lanes) {
                lanes.remove(key);
            }
        }
    }

    private void next(String key) {
        Runnable task;
        synchronized (lanes) {
            ArrayDeque<Runnable> waiting = lanes.get(key);
            task = waiting == null ? null : waiting.poll();
            if (task == null) {
                lanes.remove(key);
                return;
            }
        }
        start(key, task);
    }

    /** Keys with a task running or waiting (for tests and diagnostics). */
    int activeKeys() {
        synchronized (lanes) {
            return lanes.size();
        }
    }
}
