package io.courier.tasks.memory;

import io.courier.tasks.DailyStats;
import io.courier.tasks.DuplicateTaskException;
import io.courier.tasks.QueueInfo;
import io.courier.tasks.ServerInfo;
import io.courier.tasks.TaskIdConflictException;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskState;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.ArrivalListeners;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.NewTask;
import io.courier.tasks.spi.TaskArrivals;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A {@link io.courier.tasks.spi.TaskStore} in this JVM's memory: the fake of the task-store SPI. It
 * passes the same conformance suite as the SQL and Redis stores ({@code InMemoryTaskStoreConformanceTest}
 * in {@code courier-testkit}, the cross-process SIGKILL test excepted), so code written against
 * {@link io.courier.tasks.TaskClient}, {@link io.courier.tasks.TaskServer},
 * {@link io.courier.tasks.TaskScheduler} and {@link io.courier.tasks.TaskInspector} can be tested
 * in milliseconds, with no database:
 *
 * <pre>{@code
 * try (InMemoryTaskStore store = InMemoryTaskStore.create();
 *      TaskServer server = TaskServer.builder(store).handler(mux).build().start()) {
 *     TaskClient.create(store).enqueue(Task.of("email:deliver"));
 *     ...
 * }
 * }</pre>
 *
 * <p><b>Not durable.</b> Tasks live as long as the store object: nothing survives the JVM, and no
 * other process sees them. Use it for tests and for throw-away work, not where a task must not be
 * lost.
 *
 * <p><b>Announcements.</b> It is a {@link TaskArrivals} store: every task that becomes pending, and
 * every task enqueued for later, is announced to the servers at once, on the thread that made the
 * change, after the change (an idle server starts a task within milliseconds of its enqueue).
 *
 * <p><b>A second "process".</b> {@link #openAnother()} returns another store over the same tasks,
 * closed on its own: what a second process's store over one database would be.
 *
 * <p>Every method is atomic (one lock over all tasks) and thread-safe. Times are kept in whole
 * milliseconds, as the other stores keep them. After {@link #close()} every call but
 * {@code close} and {@link #name()} throws {@link TaskStoreException}.
 */
public final class InMemoryTaskStore implements TaskArrivals {

    private final Data data;
    private final List<Subscription> subscriptions = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private InMemoryTaskStore(Data data) {
        this.data = data;
    }

    /** A new, empty store. */
    public static InMemoryTaskStore create() {
        return new InMemoryTaskStore(new Data());
    }

    /**
     * Another store over this store's tasks, queues, counters and servers, as a second process would
     * open over the same database: changes made through either are seen by both and announced to the
     * servers of both. It is closed on its own; closing it leaves this store open.
     */
    public InMemoryTaskStore openAnother() {
        return new InMemoryTaskStore(data);
    }

    @Override
    public String name() {
        return "memory";
    }

    /** Ends this store's announcement subscriptions; the tasks stay for the stores made by {@link #openAnother()}. Idempotent. */
    @Override
    public void close() {
        closed = true;
        subscriptions.forEach(Subscription::close);
        subscriptions.clear();
    }

    // ------------------------------------------------------------------ client

    @Override
    public TaskInfo enqueue(NewTask task) {
        Objects.requireNonNull(task, "task");
        TaskState state = task.initialState();
        synchronized (open()) {
            if (data.tasks.containsKey(task.id())) {
                throw new TaskIdConflictException(task.id());
            }
            Instant enqueuedAt = millis(task.enqueuedAt());
            if (task.periodicTick().isPresent()) {
                Instant last = data.lastTicks.get(task.periodicTick().get().scheduleId());
                if (last != null && !last.isBefore(millis(task.periodicTick().get().tick()))) {
                    throw new DuplicateTaskException(task.queue(), task.type(), task.duplicateMessage());
                }
            }
            if (task.uniqueKey().isPresent()) {
                UniqueLock held = data.uniqueLocks.get(task.uniqueKey().get());
                if (held != null && held.expiresAt.isAfter(enqueuedAt)) {
                    throw new DuplicateTaskException(task.queue(), task.type(), task.duplicateMessage());
                }
                data.uniqueLocks.put(task.uniqueKey().get(), new UniqueLock(task.id(),
                        enqueuedAt.plusMillis(Math.max(1, task.uniqueTtl().orElseThrow().toMillis()))));
            }
            task.periodicTick().ifPresent(t -> data.lastTicks.put(t.scheduleId(), millis(t.tick())));
            Row row = new Row(task, data.nextSeq++);
            data.tasks.put(row.id, row);
            Queue q = data.queue(row.queue);
            if (state == TaskState.PENDING) {
                q.pending.addLast(row.id);
            } else {
                q.of(state).add(row.id);
            }
        }
        if (state == TaskState.PENDING) {
            data.listeners.ready(task.queue(), 1);
        } else {
            data.listeners.scheduled(task.queue(), millis(task.processAt()));
        }
        return task.toInfo();
    }

    // ------------------------------------------------------------------ server

    @Override
    public List<ClaimedTask> claim(String queue, int max, String workerId, Instant now, Duration lease) {
        Objects.requireNonNull(workerId, "workerId");
        synchronized (open()) {
            Queue q = data.queues.get(queue);
            if (max < 1 || q == null || q.paused) {
                return List.of();
            }
            String token = UUID.randomUUID().toString();
            List<ClaimedTask> claimed = new ArrayList<>(Math.min(max, q.pending.size()));
            while (claimed.size() < max && !q.pending.isEmpty()) {
                Row row = data.tasks.get(q.pending.pollFirst());
                row.state = TaskState.ACTIVE;
                row.leaseToken = token;
                row.worker = workerId;
                row.startedAt = millis(now);
                row.leaseExpiresAt = millis(now.plus(lease));
                q.active.add(row.id);
                claimed.add(new ClaimedTask(row.info(), token));
            }
            return claimed;
        }
    }

    @Override
    public Set<String> renewLeases(Collection<Lease> leases, Instant expiresAt) {
        Set<String> lost = new HashSet<>();
        synchronized (open()) {
            for (Lease lease : leases) {
                Row row = data.leased(lease);
                if (row == null) {
                    lost.add(lease.taskId());
                } else {
                    row.leaseExpiresAt = millis(expiresAt);
                }
            }
        }
        return lost;
    }

    @Override
    public boolean complete(Lease lease, Instant now) {
        synchronized (open()) {
            Row row = data.leased(lease);
            if (row == null) {
                return false;
            }
            data.queue(row.queue).active.remove(row.id);
            data.releaseUniqueLock(row);
            if (row.retention.isZero() || row.retention.isNegative()) {
                data.tasks.remove(row.id);
            } else {
                row.clearLease();
                row.state = TaskState.COMPLETED;
                row.completedAt = millis(now);
                row.expiresAt = millis(now.plus(row.retention));
                data.queue(row.queue).completed.add(row.id);
            }
            return true;
        }
    }

    @Override
    public Set<String> completeAll(Collection<Lease> leases, Instant now) {
        Set<String> lost = new HashSet<>();
        synchronized (open()) {
            for (Lease lease : leases) {
                if (!complete(lease, now)) {
                    lost.add(lease.taskId());
                }
            }
        }
        return lost;
    }

    @Override
    public boolean retry(Lease lease, Instant now, Instant processAt, String error, boolean countRetry) {
        synchronized (open()) {
            Row row = data.leased(lease);
            if (row == null) {
                return false;
            }
            data.move(row, TaskState.RETRY);
            row.clearLease();
            row.processAt = millis(processAt);
            row.lastError = error;
            row.lastFailedAt = millis(now);
            if (countRetry) {
                row.retried++;
            }
            return true;
        }
    }

    @Override
    public boolean archive(Lease lease, Instant now, String error) {
        synchronized (open()) {
            Row row = data.leased(lease);
            if (row == null) {
                return false;
            }
            data.move(row, TaskState.ARCHIVED);
            row.clearLease();
            row.processAt = millis(now);
            row.lastError = error;
            row.lastFailedAt = millis(now);
            return true;
        }
    }

    @Override
    public boolean writeResult(Lease lease, byte[] result) {
        Objects.requireNonNull(result, "result");
        synchronized (open()) {
            Row row = data.leased(lease);
            if (row == null) {
                return false;
            }
            row.result = result.clone();
            return true;
        }
    }

    @Override
    public boolean requeue(Lease lease) {
        String queue;
        synchronized (open()) {
            Row row = data.leased(lease);
            if (row == null) {
                return false;
            }
            data.queue(row.queue).active.remove(row.id);
            row.clearLease();
            row.state = TaskState.PENDING;
            data.queue(row.queue).pending.addFirst(row.id);   // first to be claimed again
            queue = row.queue;
        }
        data.listeners.ready(queue, 1);
        return true;
    }

    @Override
    public int forwardDue(Collection<String> queues, Instant now) {
        Map<String, Integer> forwarded = new TreeMap<>();
        synchronized (open()) {
            for (String name : Set.copyOf(queues)) {
                Queue q = data.queues.get(name);
                if (q == null) {
                    continue;
                }
                List<Row> due = new ArrayList<>();
                for (TaskState state : List.of(TaskState.SCHEDULED, TaskState.RETRY)) {
                    for (String id : q.of(state)) {
                        Row row = data.tasks.get(id);
                        if (!row.processAt.isAfter(now)) {
                            due.add(row);
                        }
                    }
                }
                due.sort(Row.BY_PROCESS_AT);
                for (Row row : due) {
                    data.move(row, TaskState.PENDING);
                }
                if (!due.isEmpty()) {
                    forwarded.put(name, due.size());
                }
            }
        }
        forwarded.forEach(data.listeners::ready);
        return forwarded.values().stream().mapToInt(Integer::intValue).sum();
    }

    @Override
    public int recoverExpiredLeases(Collection<String> queues, Instant now, String error) {
        int recovered = 0;
        synchronized (open()) {
            for (String name : Set.copyOf(queues)) {
                Queue q = data.queues.get(name);
                if (q == null) {
                    continue;
                }
                for (String id : List.copyOf(q.active)) {
                    Row row = data.tasks.get(id);
                    if (!row.leaseExpiresAt.isBefore(now)) {
                        continue;
                    }
                    boolean exhausted = row.retried >= row.maxRetry;
                    data.move(row, exhausted ? TaskState.ARCHIVED : TaskState.RETRY);
                    row.clearLease();
                    row.lastError = error;
                    row.lastFailedAt = millis(now);
                    row.processAt = millis(now);
                    if (!exhausted) {
                        row.retried++;
                    }
                    recovered++;
                }
            }
        }
        return recovered;
    }

    @Override
    public int deleteExpiredCompleted(Instant now) {
        int deleted = 0;
        synchronized (open()) {
            for (Queue q : data.queues.values()) {
                for (Iterator<String> it = q.completed.iterator(); it.hasNext(); ) {
                    Row row = data.tasks.get(it.next());
                    if (!row.expiresAt.isAfter(now)) {
                        it.remove();
                        data.tasks.remove(row.id);
                        deleted++;
                    }
                }
            }
            data.uniqueLocks.values().removeIf(lock -> !lock.expiresAt.isAfter(now));
            data.servers.values().removeIf(report -> !report.expiresAt.isAfter(now));
        }
        return deleted;
    }

    @Override
    public void recordStats(String queue, LocalDate day, long processed, long failed) {
        synchronized (open()) {
            data.queue(queue);
            long[] counters = data.stats.computeIfAbsent(new StatsKey(queue, day), k -> new long[2]);
            counters[0] += processed;
            counters[1] += failed;
        }
    }

    @Override
    public void heartbeatServer(ServerInfo info, Instant expiresAt) {
        Objects.requireNonNull(info, "info");
        synchronized (open()) {
            data.servers.put(info.id(), new ServerReport(info, millis(expiresAt)));
        }
    }

    @Override
    public void removeServer(String serverId) {
        synchronized (open()) {
            data.servers.remove(serverId);
        }
    }

    @Override
    public Subscription subscribeArrivals(Collection<String> queues, ArrivalListener listener) {
        open();
        Subscription s = data.listeners.add(queues, listener);
        subscriptions.add(s);
        return () -> {
            s.close();
            subscriptions.remove(s);
        };
    }

    @Override
    public Optional<Instant> nextDueAt(Collection<String> queues) {
        synchronized (open()) {
            Instant earliest = null;
            for (String name : Set.copyOf(queues)) {
                Queue q = data.queues.get(name);
                if (q == null) {
                    continue;
                }
                for (TaskState state : List.of(TaskState.SCHEDULED, TaskState.RETRY)) {
                    for (String id : q.of(state)) {
                        Instant at = data.tasks.get(id).processAt;
                        if (earliest == null || at.isBefore(earliest)) {
                            earliest = at;
                        }
                    }
                }
            }
            return Optional.ofNullable(earliest);
        }
    }

    // ------------------------------------------------------------------ inspector

    @Override
    public List<String> queueNames() {
        synchronized (open()) {
            return List.copyOf(data.queues.keySet());
        }
    }

    @Override
    public QueueInfo queueInfo(String queue, LocalDate day) {
        synchronized (open()) {
            Queue q = data.queues.getOrDefault(queue, Queue.EMPTY);
            long[] counters = data.stats.getOrDefault(new StatsKey(queue, day), new long[2]);
            return QueueInfo.builder().name(queue).day(day).paused(q.paused)
                    .pending(q.pending.size())
                    .active(q.active.size())
                    .scheduled(q.scheduled.size())
                    .retry(q.retry.size())
                    .archived(q.archived.size())
                    .completed(q.completed.size())
                    .processed(counters[0])
                    .failed(counters[1])
                    .build();
        }
    }

    @Override
    public List<DailyStats> history(String queue, LocalDate from, LocalDate to) {
        synchronized (open()) {
            List<DailyStats> days = new ArrayList<>();
            for (LocalDate d = from; !d.isAfter(to); d = d.plusDays(1)) {
                long[] c = data.stats.getOrDefault(new StatsKey(queue, d), new long[2]);
                days.add(new DailyStats(queue, d, c[0], c[1]));
            }
            return days;
        }
    }

    @Override
    public void setPaused(String queue, boolean paused) {
        synchronized (open()) {
            data.queue(queue).paused = paused;
        }
    }

    @Override
    public List<TaskInfo> listTasks(String queue, TaskState state, int offset, int limit) {
        synchronized (open()) {
            Queue q = data.queues.get(queue);
            if (q == null || offset < 0 || limit < 1) {
                return List.of();
            }
            List<Row> rows = new ArrayList<>();
            if (state == TaskState.PENDING) {
                q.pending.forEach(id -> rows.add(data.tasks.get(id)));
            } else {
                q.of(state).forEach(id -> rows.add(data.tasks.get(id)));
                rows.sort(state == TaskState.COMPLETED ? Row.BY_COMPLETED_AT
                        : state == TaskState.ACTIVE ? Row.BY_STARTED_AT : Row.BY_PROCESS_AT);
            }
            if (offset >= rows.size()) {
                return List.of();
            }
            return rows.subList(offset, (int) Math.min(rows.size(), (long) offset + limit)).stream().map(Row::info).toList();
        }
    }

    @Override
    public Optional<TaskInfo> getTask(String id) {
        synchronized (open()) {
            return Optional.ofNullable(data.tasks.get(id)).map(Row::info);
        }
    }

    @Override
    public Optional<TaskState> deleteTask(String id) {
        synchronized (open()) {
            Row row = data.tasks.get(id);
            if (row == null) {
                return Optional.empty();
            }
            if (row.state != TaskState.ACTIVE) {
                data.delete(row);
            }
            return Optional.of(row.state);
        }
    }

    @Override
    public Optional<TaskState> runTask(String id, Instant now) {
        TaskState before;
        String queue;
        synchronized (open()) {
            Row row = data.tasks.get(id);
            if (row == null) {
                return Optional.empty();
            }
            before = row.state;
            queue = row.queue;
            if (before != TaskState.SCHEDULED && before != TaskState.RETRY && before != TaskState.ARCHIVED) {
                return Optional.of(before);
            }
            row.processAt = millis(now);
            data.move(row, TaskState.PENDING);
        }
        data.listeners.ready(queue, 1);
        return Optional.of(before);
    }

    @Override
    public Optional<TaskState> archiveTask(String id, Instant now) {
        synchronized (open()) {
            Row row = data.tasks.get(id);
            if (row == null) {
                return Optional.empty();
            }
            TaskState before = row.state;
            if (before == TaskState.PENDING || before == TaskState.SCHEDULED || before == TaskState.RETRY) {
                row.processAt = millis(now);
                data.move(row, TaskState.ARCHIVED);
            }
            return Optional.of(before);
        }
    }

    @Override
    public int runAllArchived(String queue, Instant now) {
        int ran;
        synchronized (open()) {
            Queue q = data.queues.get(queue);
            if (q == null) {
                return 0;
            }
            List<Row> rows = new ArrayList<>();
            q.archived.forEach(id -> rows.add(data.tasks.get(id)));
            rows.sort(Row.BY_PROCESS_AT);
            for (Row row : rows) {
                row.processAt = millis(now);
                data.move(row, TaskState.PENDING);
            }
            ran = rows.size();
        }
        if (ran > 0) {
            data.listeners.ready(queue, ran);
        }
        return ran;
    }

    @Override
    public int deleteAllArchived(String queue) {
        synchronized (open()) {
            Queue q = data.queues.get(queue);
            if (q == null) {
                return 0;
            }
            List<String> ids = List.copyOf(q.archived);
            ids.forEach(id -> data.delete(data.tasks.get(id)));
            return ids.size();
        }
    }

    @Override
    public List<ServerInfo> servers(Instant now) {
        synchronized (open()) {
            return data.servers.values().stream()
                    .filter(r -> r.expiresAt.isAfter(now))
                    .map(ServerReport::info)
                    .sorted(Comparator.comparing(ServerInfo::id))
                    .toList();
        }
    }

    @Override
    public String toString() {
        return "InMemoryTaskStore" + (closed ? " (closed)" : "");
    }

    // ------------------------------------------------------------------ data

    /** The lock and the data, for a {@code synchronized} block; throws once this store is closed. */
    private Data open() {
        if (closed) {
            throw new TaskStoreException("in-memory task store is closed");
        }
        return data;
    }

    private static Instant millis(Instant t) {
        return Instant.ofEpochMilli(t.toEpochMilli());
    }

    /** Everything the stores made by {@link #openAnother()} share; guarded by its own monitor. */
    private static final class Data {
        final Map<String, Row> tasks = new HashMap<>();
        /** Every queue with tasks, counters or a pause flag, by name. */
        final Map<String, Queue> queues = new TreeMap<>();
        final Map<String, UniqueLock> uniqueLocks = new HashMap<>();
        final Map<String, Instant> lastTicks = new HashMap<>();
        final Map<StatsKey, long[]> stats = new HashMap<>();
        final Map<String, ServerReport> servers = new HashMap<>();
        final ArrivalListeners listeners = new ArrivalListeners();
        long nextSeq;

        Queue queue(String name) {
            return queues.computeIfAbsent(name, n -> new Queue());
        }

        /** The task {@code lease} holds, or null when the lease is stale. */
        Row leased(Lease lease) {
            Row row = tasks.get(lease.taskId());
            return row != null && row.state == TaskState.ACTIVE && lease.token().equals(row.leaseToken) ? row : null;
        }

        /** Moves a task to {@code to}'s list or set (pending: at the end). */
        void move(Row row, TaskState to) {
            Queue q = queue(row.queue);
            unlink(q, row);
            row.state = to;
            if (to == TaskState.PENDING) {
                q.pending.addLast(row.id);
            } else {
                q.of(to).add(row.id);
            }
        }

        void delete(Row row) {
            unlink(queue(row.queue), row);
            releaseUniqueLock(row);
            tasks.remove(row.id);
        }

        void releaseUniqueLock(Row row) {
            if (row.uniqueKey != null) {
                UniqueLock lock = uniqueLocks.get(row.uniqueKey);
                if (lock != null && lock.taskId.equals(row.id)) {
                    uniqueLocks.remove(row.uniqueKey);
                }
            }
        }

        private static void unlink(Queue q, Row row) {
            if (row.state == TaskState.PENDING) {
                q.pending.remove(row.id);
            } else {
                q.of(row.state).remove(row.id);
            }
        }
    }

    /** One queue: ready ids in claim order, the other states as sets. */
    private static final class Queue {
        static final Queue EMPTY = new Queue();

        final ArrayDeque<String> pending = new ArrayDeque<>();
        final Set<String> active = new LinkedHashSet<>();
        final Set<String> scheduled = new LinkedHashSet<>();
        final Set<String> retry = new LinkedHashSet<>();
        final Set<String> archived = new LinkedHashSet<>();
        final Set<String> completed = new LinkedHashSet<>();
        boolean paused;

        Set<String> of(TaskState state) {
            return switch (state) {
                case ACTIVE -> active;
                case SCHEDULED -> scheduled;
                case RETRY -> retry;
                case ARCHIVED -> archived;
                case COMPLETED -> completed;
                case PENDING -> throw new IllegalArgumentException("pending tasks are a list");
            };
        }
    }

    /** A stored task; changed only under the data's monitor. */
    private static final class Row {
        static final Comparator<Row> BY_PROCESS_AT = Comparator.<Row, Instant>comparing(r -> r.processAt)
                .thenComparingLong(r -> r.seq);
        static final Comparator<Row> BY_COMPLETED_AT = Comparator.<Row, Instant>comparing(r -> r.completedAt)
                .thenComparingLong(r -> r.seq);
        static final Comparator<Row> BY_STARTED_AT = Comparator.<Row, Instant>comparing(r -> r.startedAt)
                .thenComparingLong(r -> r.seq);

        final String id;
        final String queue;
        final String type;
        final byte[] payload;
        final int maxRetry;
        final Instant enqueuedAt;
        final Optional<Duration> timeout;
        final Optional<Instant> deadline;
        final Duration retention;
        final String uniqueKey;
        final long seq;
        TaskState state;
        int retried;
        String lastError;
        Instant lastFailedAt;
        Instant processAt;
        Instant startedAt;
        Instant completedAt;
        Instant expiresAt;
        String worker;
        String leaseToken;
        Instant leaseExpiresAt;
        byte[] result;

        Row(NewTask t, long seq) {
            this.id = t.id();
            this.queue = t.queue();
            this.type = t.type();
            this.payload = t.payload().clone();
            this.maxRetry = t.maxRetry();
            this.enqueuedAt = millis(t.enqueuedAt());
            this.timeout = t.timeout();
            this.deadline = t.deadline().map(InMemoryTaskStore::millis);
            this.retention = t.retention();
            this.uniqueKey = t.uniqueKey().orElse(null);
            this.seq = seq;
            this.state = t.initialState();
            this.processAt = millis(t.processAt());
        }

        void clearLease() {
            leaseToken = null;
            worker = null;
            leaseExpiresAt = null;
            startedAt = null;
        }

        TaskInfo info() {
            boolean waiting = state == TaskState.PENDING || state == TaskState.SCHEDULED || state == TaskState.RETRY;
            boolean active = state == TaskState.ACTIVE;
            return TaskInfo.builder().id(id).queue(queue).type(type).payload(payload).state(state).retried(retried)
                    .maxRetry(maxRetry).lastError(lastError).lastFailedAt(lastFailedAt).enqueuedAt(enqueuedAt)
                    .nextProcessAt(waiting ? processAt : null).timeout(timeout.orElse(null))
                    .deadline(deadline.orElse(null)).retention(retention)
                    .startedAt(active ? startedAt : null)
                    .completedAt(state == TaskState.COMPLETED ? completedAt : null)
                    .worker(active ? worker : null)
                    .leaseExpiresAt(active ? leaseExpiresAt : null)
                    .result(result)
                    .build();
        }
    }

    private record UniqueLock(String taskId, Instant expiresAt) {
    }

    private record StatsKey(String queue, LocalDate day) {
    }

    private record ServerReport(ServerInfo info, Instant expiresAt) {
    }
}
