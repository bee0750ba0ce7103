package io.courier.spi.engine;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Runs tasks on an executor, at most {@code permits} at a time, so that the tasks of one lane run
 * one after another in submission order while different lanes (and tasks without a lane) run
 * concurrently. A lane with work takes one permit and runs up to {@code turn} of its tasks in a row,
 * then goes to the back of the ready queue so other lanes get their turn; a task may hold its lane
 * until a given time (a delayed record that arrived early, an in-place retry) without occupying a
 * thread or a permit. A lane exists only while it has tasks. Thread-safe.
 */
final class Lanes {

    /** A task of a lane. */
    interface Task {
        /** Epoch milliseconds before which the task must not start; 0 for at once. */
        long notBefore();

        /**
         * Runs the task.
         *
         * @return 0 when done; otherwise epoch milliseconds until which the lane waits, this task first,
         *         after which it runs again
         */
        long run();
    }

    private static final ScheduledThreadPoolExecutor TIMER = timer();

    private final Executor executor;
    private final int permits;
    private final int turn;
    private final Clock clock;
    private final Object lock = new Object();
    /** Lanes with a key and tasks (ready, running or held); guarded by {@link #lock}. */
    private final Map<Object, Lane> keyed = new HashMap<>();
    /** Lanes waiting for a permit, in order; guarded by {@link #lock}. */
    private final ArrayDeque<Lane> ready = new ArrayDeque<>();
    /** Tasks without a lane, in order; guarded by {@link #lock}. */
    private final ArrayDeque<Task> free = new ArrayDeque<>();
    /** Runners taking tasks from {@link #free} and not running one now; guarded by {@link #lock}. */
    private int freeRunners;
    /** Runners (lanes and free runners) on the executor; guarded by {@link #lock}. */
    private int running;
    private boolean stopped;

    Lanes(Executor executor, int permits, int turn, Clock clock) {
        this.executor = executor;
        this.permits = permits;
        this.turn = turn;
        this.clock = clock;
    }

    /** Queues {@code task} in {@code lane} ({@code null}: no ordering, any free thread runs it). */
    void submit(Object lane, Task task) {
        if (lane == null) {
            long notBefore = task.notBefore();
            if (notBefore > 0 && notBefore > clock.millis()) {
                later(notBefore, () -> submit(null, task));
                return;
            }
            synchronized (lock) {
                free.addLast(task);
            }
            pump();
            return;
        }
        synchronized (lock) {
            Lane l = keyed.get(lane);
            if (l != null) {
                l.tasks.addLast(task);
                return;
            }
            l = new Lane(lane);
            l.tasks.addLast(task);
            keyed.put(lane, l);
            ready.addLast(l);
        }
        pump();
    }

    /** Starts no more lanes; tasks already running finish. */
    void stop() {
        synchronized (lock) {
            stopped = true;
            lock.notifyAll();
        }
    }

    /** Lanes running on the executor now. */
    int running() {
        synchronized (lock) {
            return running;
        }
    }

    /** True when no lane has work (nothing running, ready or held). */
    boolean idle() {
        synchronized (lock) {
            return running == 0 && ready.isEmpty() && keyed.isEmpty() && free.isEmpty();
        }
    }

    /** True when no task waits for a thread (no lane waiting for a permit, no task without a lane queued). */
    boolean noneReady() {
        synchronized (lock) {
            return ready.isEmpty() && free.size() <= freeRunners;
        }
    }

    /**
     * Waits up to {@code nanos} until no lane runs.
     *
     * @return true when none runs
     */
    boolean awaitNoneRunning(long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        synchronized (lock) {
            while (running > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    private void pump() {
        List<Runnable> start = null;
        synchronized (lock) {
            while (!stopped && running < permits) {
                Runnable r;
                if (!ready.isEmpty()) {
                    r = ready.pollFirst();
                } else if (free.size() > freeRunners) {
                    freeRunners++;
                    r = freeRunner;
                } else {
                    break;
                }
                running++;
                if (start == null) {
                    start = new ArrayList<>(2);
                }
                start.add(r);
            }
        }
        if (start != null) {
            for (Runnable r : start) {
                try {
                    executor.execute(r);
                } catch (RejectedExecutionException e) {
                    // the executor shut down (closing): these tasks never start and are released
                    synchronized (lock) {
                        running--;
                        if (r == freeRunner) {
                            freeRunners--;
                        } else {
                            drop((Lane) r);
                        }
                        lock.notifyAll();
                    }
                }
            }
        }
    }

    /** Runs tasks without a lane until none is left, giving its permit up after a turn when lanes wait. */
    private final Runnable freeRunner = this::runFree;

    private void runFree() {
        int n = 0;
        while (true) {
            Task task;
            synchronized (lock) {
                task = stopped ? null : free.pollFirst();
                if (task == null || (n >= turn && !ready.isEmpty())) {
                    if (task != null) {
                        free.addFirst(task);
                    }
                    freeRunners--;
                    running--;
                    lock.notifyAll();
                    break;
                }
                // busy until the task returns: a task queued meanwhile needs another runner
                freeRunners--;
            }
            n++;
            long holdUntil;
            try {
                holdUntil = task.run();
            } catch (RuntimeException | Error e) {
                holdUntil = 0;
            }
            synchronized (lock) {
                freeRunners++;
            }
            if (holdUntil > 0) {
                Task again = task;
                later(holdUntil, () -> submit(null, again));
            }
        }
        pump();
    }

    /** Runs {@code action} on the timer at {@code epochMillis} (at once when the timer is gone). */
    private void later(long epochMillis, Runnable action) {
        long delay = Math.max(0, epochMillis - clock.millis());
        try {
            TIMER.schedule(action, delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            action.run();
        }
    }

    /** A lane gave its permit back: {@code more} when it still has tasks and goes back to the queue. */
    private void finished(Lane l, boolean more) {
        synchronized (lock) {
            running--;
            if (more) {
                ready.addLast(l);
            } else {
                drop(l);
            }
            lock.notifyAll();
        }
        pump();
    }

    private void drop(Lane l) {
        if (l.key != null) {
            keyed.remove(l.key, l);
        }
    }

    private void hold(Lane l, long until) {
        synchronized (lock) {
            running--;
            lock.notifyAll();
        }
        later(until, () -> {
            synchronized (lock) {
                ready.addLast(l);
            }
            pump();
        });
        pump();
    }

    private final class Lane implements Runnable {
        private final Object key;
        /** Guarded by {@link Lanes#lock}; only the thread running the lane removes from it. */
        private final ArrayDeque<Task> tasks = new ArrayDeque<>();

        Lane(Object key) {
            this.key = key;
        }

        @Override
        public void run() {
            for (int i = 0; i < turn; i++) {
                Task task;
                boolean leave;
                synchronized (lock) {
                    task = tasks.peekFirst();
                    leave = task == null || stopped;
                    if (leave) {
                        running--;
                        if (task == null) {
                            drop(this);
                        }
                        lock.notifyAll();
                    }
                }
                if (leave) {
                    if (task == null) {
                        pump();   // its permit goes to a lane waiting in the ready queue
                    }
                    return;
                }
                long notBefore = task.notBefore();
                if (notBefore > 0 && notBefore > clock.millis()) {
                    hold(this, notBefore);
                    return;
                }
                long holdUntil;
                try {
                    holdUntil = task.run();
                } catch (RuntimeException | Error e) {
                    holdUntil = 0;   // a task is not to throw; the lane must not stall behind one that did
                }
                if (holdUntil > 0) {
                    hold(this, holdUntil);
                    return;
                }
                synchronized (lock) {
                    tasks.pollFirst();
                }
            }
            boolean more;
            synchronized (lock) {
                more = !tasks.isEmpty();
            }
            finished(this, more);
        }
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "courier-engine-timer");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        return t;
    }
}
