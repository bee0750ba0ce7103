package io.courier.tasks;

import io.courier.tasks.spi.Lease;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * One attempt of one task in a {@link TaskServer}: who settles it first (its handler, its watchdog,
 * the {@link Heartbeater} finding its lease lost, or shutdown) wins, and only the winner writes its
 * outcome and frees its worker slot.
 */
final class Execution {
    final Lease lease;
    final TaskContext context;
    final Instant startedAt;
    private final AtomicBoolean settled = new AtomicBoolean();
    volatile ScheduledFuture<?> watchdog;
    /** Set by the one thread that settled the attempt as a success, read by the one that calls done. */
    volatile boolean slotFreedEarly;
    private Thread thread;
    private boolean handlerReturned;

    /** {@code contextFor} makes the attempt's context, whose result writer needs this execution. */
    Execution(Lease lease, Instant startedAt, Function<Execution, TaskContext> contextFor) {
        this.lease = lease;
        this.startedAt = startedAt;
        this.context = contextFor.apply(this);
    }

    /** Claims the right to settle this attempt; true for the first caller only. */
    boolean settle() {
        return settled.compareAndSet(false, true);
    }

    /** True once somebody settled this attempt. */
    boolean isSettled() {
        return settled.get();
    }

    String taskId() {
        return lease.taskId();
    }

    TaskInfo info() {
        return context.info();
    }

    synchronized void begin(Thread t) {
        thread = t;
    }

    /** Marks the handler as returned and clears an interrupt aimed at it, so the pool thread is clean. */
    void end() {
        synchronized (this) {
            handlerReturned = true;
        }
        Thread.interrupted();
    }

    /** Interrupts the handler thread, only while it is still inside this attempt's handler. */
    synchronized void interrupt() {
        if (thread != null && !handlerReturned) {
            thread.interrupt();
        }
    }

    /** The running task as a server reports it. */
    WorkerInfo toWorkerInfo() {
        TaskInfo i = info();
        return new WorkerInfo(i.id(), i.type(), i.queue(), startedAt, context.deadline());
    }
}
