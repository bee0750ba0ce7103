package io.courier.kafka.internal;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs tasks on a shared executor so that tasks of one lane run one at a time, in submission order,
 * while different lanes run concurrently. A lane stays busy until its current task calls
 * {@link #release(Object)}, which may happen on another thread, later (after an asynchronous
 * publish, or a timer for an in-place retry). Thread-safe.
 */
public final class LaneDispatcher {

    private final Executor executor;
    private final Map<Object, ArrayDeque<Runnable>> busy = new HashMap<>();

    /** A dispatcher running tasks on {@code executor}. */
    public LaneDispatcher(Executor executor) {
        this.executor = executor;
    }

    /** Runs {@code task} now if {@code lane} is idle, otherwise after the lane's earlier tasks released it. */
    public void submit(Object lane, Runnable task) {
        synchronized (this) {
            ArrayDeque<Runnable> queue = busy.get(lane);
            if (queue != null) {
                queue.addLast(task);
                return;
            }
            busy.put(lane, new ArrayDeque<>());
        }
        run(task);
    }

    /** The lane's current task is done with it: starts the lane's next task, if any. */
    public void release(Object lane) {
        Runnable next;
        synchronized (this) {
            ArrayDeque<Runnable> queue = busy.get(lane);
            if (queue == null) {
                return;
            }
            next = queue.pollFirst();
            if (next == null) {
                busy.remove(lane);
            }
        }
        if (next != null) {
            run(next);
        }
    }

    /** Lanes with a task running or queued. */
    public synchronized int busyLanes() {
        return busy.size();
    }

    private void run(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            // the subscription is shutting down; the record stays uncommitted and is delivered again
        }
    }
}
