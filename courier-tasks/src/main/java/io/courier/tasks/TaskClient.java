package io.courier.tasks;

import io.courier.tasks.internal.NewTasks;
import io.courier.tasks.spi.TaskStore;
import io.courier.tasks.spi.TransactionalTaskStore;
import java.sql.Connection;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;

/**
 * Enqueues tasks (Asynq's {@code client.go}). Thread-safe; one client per application is enough.
 *
 * <pre>{@code
 * try (SqlTaskStore store = SqlTaskStore.sqlite(Path.of("tasks.db"))) {
 *     TaskClient client = TaskClient.create(store);
 *     TaskInfo info = client.enqueue(Task.ofJson("email:deliver", new Email("ada@example.com", "Hi")),
 *             TaskOptions.builder().maxRetry(3).timeout(Duration.ofMinutes(5)).build());
 *     System.out.println(info.id() + " " + info.state());
 * }
 * }</pre>
 *
 * <p>When {@code enqueue} returns, the task is durable in the store (as durable as the store is:
 * committed in SQL, written to Redis memory for Redis). The client owns nothing: closing the store is
 * the caller's business.
 */
public final class TaskClient {

    private final TaskStore store;
    private final Clock clock;
    private final TaskOptions defaults;

    private TaskClient(TaskStore store, Clock clock, TaskOptions defaults) {
        this.store = Objects.requireNonNull(store, "store");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.defaults = Objects.requireNonNull(defaults, "defaults");
    }

    /** A client over {@code store} with the system clock and {@link TaskOptions#defaults()}. */
    public static TaskClient create(TaskStore store) {
        return new TaskClient(store, Clock.systemUTC(), TaskOptions.defaults());
    }

    /**
     * A client with a clock (for enqueue times and {@code processIn}) and default options (used by
     * {@link #enqueue(Task)}).
     */
    public static TaskClient create(TaskStore store, Clock clock, TaskOptions defaults) {
        return new TaskClient(store, clock, defaults);
    }

    /** Enqueues with this client's default options. See {@link #enqueue(Task, TaskOptions)}. */
    public TaskInfo enqueue(Task task) {
        return enqueue(task, defaults);
    }

    /**
     * Enqueues a task. It is PENDING, or SCHEDULED when {@code processAt}/{@code processIn} lies in
     * the future.
     *
     * @return the stored task: id, queue, state and when it will run
     * @throws DuplicateTaskException  if the task is unique and an equal one holds the lock
     * @throws TaskIdConflictException if the chosen id exists
     * @throws TaskStoreException      if the store fails (the task may or may not be stored)
     */
    public TaskInfo enqueue(Task task, TaskOptions options) {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(options, "options");
        return store.enqueue(NewTasks.resolve(task, options, clock.instant(), Optional.empty()));
    }

    /**
     * Enqueues a task inside the caller's JDBC transaction: it exists if and only if the caller
     * commits. The connection is used as it is (not committed, not rolled back, auto-commit untouched)
     * and must reach the store's database.
     *
     * <pre>{@code
     * try (Connection tx = dataSource.getConnection()) {
     *     tx.setAutoCommit(false);
     *     insertOrder(tx, order);
     *     client.enqueue(tx, Task.ofJson("order:confirm", order), TaskOptions.defaults());
     *     tx.commit();
     * }
     * }</pre>
     *
     * @throws UnsupportedOperationException if the store is not a {@link TransactionalTaskStore} (Redis)
     * @throws DuplicateTaskException        if the task is unique and an equal one holds the lock
     * @throws TaskIdConflictException       if the chosen id exists
     */
    public TaskInfo enqueue(Connection transaction, Task task, TaskOptions options) {
        Objects.requireNonNull(transaction, "transaction");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(options, "options");
        if (!(store instanceof TransactionalTaskStore tx)) {
            throw new UnsupportedOperationException("the " + store.name()
                    + " task store cannot enqueue inside a JDBC transaction; use a SqlTaskStore");
        }
        return tx.enqueue(transaction, NewTasks.resolve(task, options, clock.instant(), Optional.empty()));
    }

    /** The store this client writes to. */
    public TaskStore store() {
        return store;
    }
}
