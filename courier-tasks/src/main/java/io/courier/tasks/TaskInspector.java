package io.courier.tasks;

import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Looks at and acts on queues, tasks and servers (Asynq's {@code inspector.go}): the public API for
 * monitoring and operations tools, which need no access to the store beyond it.
 *
 * <pre>{@code
 * TaskInspector inspector = TaskInspector.create(store);
 * for (QueueInfo q : inspector.queues()) {
 *     System.out.printf("%s pending=%d archived=%d processed today=%d%n",
 *             q.name(), q.pending(), q.archived(), q.processed());
 * }
 * inspector.listTasks("default", TaskState.ARCHIVED, 0, 20).forEach(t -> System.out.println(t.lastError()));
 * inspector.runAllArchived("default");
 * }</pre>
 *
 * <p>Thread-safe. Counters are per UTC day and are written by servers with their heartbeat, so
 * they trail the truth by up to one heartbeat interval.
 */
public final class TaskInspector {

    /** Largest page size accepted by {@link #listTasks}. */
    public static final int MAX_PAGE_SIZE = 1000;

    private final TaskStore store;
    private final Clock clock;

    private TaskInspector(TaskStore store, Clock clock) {
        this.store = Objects.requireNonNull(store, "store");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** An inspector over {@code store} with the UTC system clock. */
    public static TaskInspector create(TaskStore store) {
        return new TaskInspector(store, Clock.systemUTC());
    }

    /** An inspector with a clock (for "today" and run-now times). */
    public static TaskInspector create(TaskStore store, Clock clock) {
        return new TaskInspector(store, clock);
    }

    /** Every known queue with its counts per state and today's counters, sorted by name. */
    public List<QueueInfo> queues() {
        LocalDate today = today();
        List<QueueInfo> result = new ArrayList<>();
        for (String q : store.queueNames()) {
            result.add(store.queueInfo(q, today));
        }
        return result;
    }

    /** One queue's counts (all zero for a queue that has never been used). */
    public QueueInfo queue(String queue) {
        return store.queueInfo(TaskOptions.requireQueueName(queue), today());
    }

    /**
     * A queue's processed/failed counters for the last {@code days} UTC days, oldest first, today
     * included.
     *
     * @throws IllegalArgumentException if days is below 1 or above 366
     */
    public List<DailyStats> history(String queue, int days) {
        if (days < 1 || days > 366) {
            throw new IllegalArgumentException("days must be between 1 and 366, but was " + days);
        }
        LocalDate today = today();
        return store.history(TaskOptions.requireQueueName(queue), today.minusDays(days - 1L), today);
    }

    /** Pauses a queue: servers claim nothing from it until {@link #unpauseQueue}. Running tasks finish. */
    public void pauseQueue(String queue) {
        store.setPaused(TaskOptions.requireQueueName(queue), true);
    }

    /** Resumes a paused queue. */
    public void unpauseQueue(String queue) {
        store.setPaused(TaskOptions.requireQueueName(queue), false);
    }

    /**
     * One page of a queue's tasks in one state, oldest first (pending, scheduled and retry by next
     * process time; completed by completion). Pages are <b>0-based</b> (unlike Asynq's, which start
     * at 1): page 0 holds the first {@code pageSize} tasks, page {@code n} the tasks from
     * {@code n * pageSize} on. A page past the end is empty. The first pages answer in about the same
     * time however many tasks the queue holds; a deep page costs in proportion to its offset.
     *
     * @param page     0-based page number, {@code >= 0}
     * @param pageSize tasks per page, 1 to {@value #MAX_PAGE_SIZE}
     * @throws IllegalArgumentException for a negative page or a page size out of range
     */
    public List<TaskInfo> listTasks(String queue, TaskState state, int page, int pageSize) {
        Objects.requireNonNull(state, "state");
        if (page < 0) {
            throw new IllegalArgumentException("page must be >= 0, but was " + page);
        }
        if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
            throw new IllegalArgumentException("pageSize must be between 1 and " + MAX_PAGE_SIZE + ", but was " + pageSize);
        }
        long offset = (long) page * pageSize;
        if (offset > Integer.MAX_VALUE) {
            return List.of();
        }
        return store.listTasks(TaskOptions.requireQueueName(queue), state, (int) offset, pageSize);
    }

    /** One task with payload, attempts, last error, next run and result; empty if it does not exist. */
    public Optional<TaskInfo> task(String id) {
        return store.getTask(Objects.requireNonNull(id, "id"));
    }

    /**
     * Deletes a task (releasing its unique lock).
     *
     * @return false if no such task exists
     * @throws TaskStateException if it is ACTIVE
     */
    public boolean deleteTask(String id) {
        Optional<TaskState> before = store.deleteTask(Objects.requireNonNull(id, "id"));
        if (before.isPresent() && before.get() == TaskState.ACTIVE) {
            throw new TaskStateException(id, TaskState.ACTIVE, "delete", "non-active");
        }
        return before.isPresent();
    }

    /**
     * Runs a SCHEDULED, RETRY or ARCHIVED task now (moves it to PENDING). Its retry count is kept.
     *
     * @return false if no such task exists
     * @throws TaskStateException if it is PENDING, ACTIVE or COMPLETED
     */
    public boolean runTask(String id) {
        Optional<TaskState> before = store.runTask(Objects.requireNonNull(id, "id"), clock.instant());
        if (before.isPresent() && !(before.get() == TaskState.SCHEDULED || before.get() == TaskState.RETRY
                || before.get() == TaskState.ARCHIVED)) {
            throw new TaskStateException(id, before.get(), "run", "scheduled, retry or archived");
        }
        return before.isPresent();
    }

    /**
     * Archives a PENDING, SCHEDULED or RETRY task.
     *
     * @return false if no such task exists
     * @throws TaskStateException if it is ACTIVE, ARCHIVED or COMPLETED
     */
    public boolean archiveTask(String id) {
        Optional<TaskState> before = store.archiveTask(Objects.requireNonNull(id, "id"), clock.instant());
        if (before.isPresent() && !(before.get() == TaskState.PENDING || before.get() == TaskState.SCHEDULED
                || before.get() == TaskState.RETRY)) {
            throw new TaskStateException(id, before.get(), "archive", "pending, scheduled or retry");
        }
        return before.isPresent();
    }

    /** Moves every archived task of a queue to PENDING; returns how many. */
    public int runAllArchived(String queue) {
        return store.runAllArchived(TaskOptions.requireQueueName(queue), clock.instant());
    }

    /** Deletes every archived task of a queue; returns how many. */
    public int deleteAllArchived(String queue) {
        return store.deleteAllArchived(TaskOptions.requireQueueName(queue));
    }

    /** The servers that reported within their heartbeat window, with the tasks they are running. */
    public List<ServerInfo> servers() {
        return store.servers(clock.instant());
    }

    private LocalDate today() {
        return LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
    }
}
