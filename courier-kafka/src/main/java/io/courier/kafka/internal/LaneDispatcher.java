package io.courier.kafka.internal;

import java.util.ArrayDeque;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs tasks on a shared executor so that tasks of one lane run one at a time, in submission order,
 * while different lanes run concurrently.
 *
 * <p>A lane with work is one executor task that runs the lane's tasks one after the other, up to
 * {@code turn} of them, and then goes to the back of the executor's queue so that other lanes get
 * their turn; tasks submitted while it runs join its queue. So a partition's records cost one
 * executor hand-off per turn, not one per record. A task that returns {@code false} keeps its lane
 * waiting (it stays first in the lane) until {@link #resume(Object)} is called for the lane, which
 * may happen on another thread, later (a timer for an in-place retry); it then runs again. A lane
 * whose queue runs empty is dropped; a later submit starts it afresh. Thread-safe.
 */
public final class LaneDispatcher {

    /** A task of a lane. */
    @FunctionalInterface
    public interface Task {
        /**
         * Does the task's work.
         *
         * @return true when done (the lane goes on with its next task); false when the lane must wait
         *         for {@link LaneDispatcher#resume(Object)}, after which this task runs again
         */
        boolean run();
    }

    private final Executor executor;
    private final int turn;
    /** Lanes with tasks, running, queued in the executor or waiting for a resume; guarded by this. */
    private final Map<Object, Lane> lanes = new HashMap<>();

    /** A dispatcher running tasks on {@code executor}, at most {@code turn} tasks of a lane in a row. */
    public LaneDispatcher(Executor executor, int turn) {
        if (turn < 1) {
            throw new IllegalArgumentException("turn must be >= 1, but was " + turn);
        }
        this.executor = executor;
        this.turn = turn;
    }

    /** Queues {@code task} in {@code lane}; starts the lane if it has no tasks. */
    public void submit(Object lane, Task task) {
        Lane l;
        synchronized (this) {
            l = lanes.get(lane);
            if (l != null) {
                l.add(task);
                return;
            }
            l = new Lane(lane);
            l.add(task);
            lanes.put(lane, l);
        }
        execute(l);
    }

    /** Queues {@code tasks}, in order, in {@code lane}; starts the lane if it has no tasks. */
    public void submitAll(Object lane, Collection<? extends Task> tasks) {
        if (tasks.isEmpty()) {
            return;
        }
        Lane l;
        synchronized (this) {
            l = lanes.get(lane);
            if (l != null) {
                l.addAll(tasks);
                return;
            }
            l = new Lane(lane);
            l.addAll(tasks);
            lanes.put(lane, l);
        }
        execute(l);
    }

    /** The lane's first task returned false and may run again now. */
    public void resume(Object lane) {
        Lane l;
        synchronized (this) {
            l = lanes.get(lane);
        }
        if (l != null) {
            execute(l);
        }
    }

    /** Lanes with tasks (running, queued, or waiting). */
    public synchronized int busyLanes() {
        return lanes.size();
    }

    private void execute(Lane lane) {
        try {
            executor.execute(lane);
        } catch (RejectedExecutionException e) {
            // the subscription is shutting down; the records stay uncommitted and are delivered again
        }
    }

    /** Drops {@code lane} if it has no task left; false when one was added meanwhile. */
    private boolean retire(Lane lane) {
        synchronized (this) {
            synchronized (lane) {
                if (!lane.queue.isEmpty()) {
                    return false;
                }
                lanes.remove(lane.key, lane);
                return true;
            }
        }
    }

    private final class Lane implements Runnable {
        private final Object key;
        /** Guarded by this lane; only the worker running the lane removes from it. */
        private final ArrayDeque<Task> queue = new ArrayDeque<>();

        Lane(Object key) {
            this.key = key;
        }

        synchronized void add(Task task) {
            queue.addLast(task);
        }

        synchronized void addAll(Collection<? extends Task> tasks) {
            queue.addAll(tasks);
        }

        @Override
        public void run() {
            Task task;
            synchronized (this) {
                task = queue.peekFirst();
            }
            for (int i = 0; i < turn; i++) {
                if (task == null) {
                    if (retire(this)) {
                        return;
                    }
                    synchronized (this) {
                        task = queue.peekFirst();
                    }
                    continue;
                }
                boolean done;
                try {
                    done = task.run();
                } catch (RuntimeException | Error e) {
                    // A task is not to throw; if one does, the lane must not stall behind it.
                    synchronized (this) {
                        queue.pollFirst();
                    }
                    execute(this);
                    throw e;
                }
                if (!done) {
                    return; // waiting for resume(key)
                }
                synchronized (this) {
                    queue.pollFirst();
                    task = queue.peekFirst();
                }
            }
            execute(this); // let other lanes have their turn
        }
    }
}
