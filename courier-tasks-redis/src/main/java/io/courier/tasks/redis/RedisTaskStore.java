package io.courier.tasks.redis;

import io.courier.JsonCodec;
import io.courier.tasks.DailyStats;
import io.courier.tasks.DuplicateTaskException;
import io.courier.tasks.QueueInfo;
import io.courier.tasks.ServerInfo;
import io.courier.tasks.TaskIdConflictException;
import io.courier.tasks.TaskInfo;
import io.courier.tasks.TaskState;
import io.courier.tasks.TaskStoreException;
import io.courier.tasks.spi.ArrivalListener;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.NewTask;
import io.courier.tasks.spi.TaskArrivals;
import io.courier.tasks.spi.TaskStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A task store in Redis, through Lettuce. Every state change is one Lua script, so it is atomic:
 * pending lists, scheduled/retry/active/archived/completed sorted sets, one hash per task, unique
 * locks as {@code SET NX PX} keys (see the key layout in the package documentation).
 *
 * <pre>{@code
 * try (RedisTaskStore store = RedisTaskStore.connect("redis://localhost:6379")) { ... }
 * RedisTaskStore store = RedisTaskStore.builder(redisClient).keyPrefix("app:tasks").build();
 * }</pre>
 *
 * <p><b>Trade-offs.</b> Fast (all work in memory, one round trip per operation) but only as durable
 * as the Redis server's persistence (AOF with {@code appendfsync everysec} loses up to a second;
 * no persistence loses everything on restart). No transactional enqueue with a database. The
 * scripts build key names from the prefix, so the store needs a single Redis node (or a primary
 * with replicas), not Redis Cluster.
 *
 * <p><b>Waking servers.</b> The scripts that make tasks pending or schedule them publish on the
 * queue's channel {@code <prefix>:wake:<queue>} ({@link TaskArrivals}); the first server started on
 * this store opens one pub/sub connection, kept until {@link #close()}, so idle servers in any
 * process start new tasks within milliseconds.
 *
 * <p>Thread-safe: one multiplexed connection serves all threads. {@link #close()} closes the
 * connection, and the client too if this store created it.
 */
public final class RedisTaskStore implements TaskStore, TaskArrivals {

    /** The key prefix unless another is given. */
    public static final String DEFAULT_KEY_PREFIX = "courier:tasks";
    /** How long daily counters are kept. */
    public static final Duration STATS_TTL = Duration.ofDays(90);

    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);
    private static final String[] NO_KEYS = new String[0];

    private final RedisClient client;
    private final boolean ownsClient;
    private final StatefulRedisConnection<String, byte[]> connection;
    private final RedisCommands<String, byte[]> redis;
    private final String prefix;
    private final Map<String, String> shas = new ConcurrentHashMap<>();
    private final RedisArrivals arrivals;

    private RedisTaskStore(RedisClient client, boolean ownsClient, String prefix) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.prefix = prefix;
        try {
            this.connection = client.connect(CODEC);
        } catch (RedisException e) {
            if (ownsClient) {
                client.shutdown();
            }
            throw new TaskStoreException("cannot connect to Redis: " + e.getMessage(), e);
        }
        this.redis = connection.sync();
        this.arrivals = new RedisArrivals(client, prefix);
    }

    /** A store with its own Lettuce client for {@code redisUri} (e.g. {@code redis://localhost:6379/0}). */
    public static RedisTaskStore connect(String redisUri) {
        return new RedisTaskStore(RedisClient.create(RedisURI.create(Objects.requireNonNull(redisUri, "redisUri"))),
                true, DEFAULT_KEY_PREFIX);
    }

    /**
     * A store with its own Lettuce client and the given key prefix (see {@link Builder#keyPrefix}).
     */
    public static RedisTaskStore connect(String redisUri, String keyPrefix) {
        Builder.checkPrefix(keyPrefix);
        return new RedisTaskStore(RedisClient.create(RedisURI.create(Objects.requireNonNull(redisUri, "redisUri"))),
                true, keyPrefix);
    }

    /** A builder over the caller's Lettuce client (not shut down by {@link #close()}). */
    public static Builder builder(RedisClient client) {
        return new Builder(client);
    }

    /** The key prefix. */
    public String keyPrefix() {
        return prefix;
    }

    @Override
    public String name() {
        return "redis";
    }

    @Override
    public void close() {
        try {
            arrivals.close();
            connection.close();
        } finally {
            if (ownsClient) {
                client.shutdown();
            }
        }
    }

    // ------------------------------------------------------------------ client

    @Override
    public TaskInfo enqueue(NewTask t) {
        List<byte[]> args = new ArrayList<>();
        add(args, prefix, t.id(), t.queue(), t.initialState().wireName(), millis(t.processAt()),
                t.uniqueKey().orElse(""), String.valueOf(t.uniqueTtl().map(d -> Math.max(1, d.toMillis())).orElse(0L)),
                t.periodicTick().map(pt -> pt.scheduleId()).orElse(""),
                t.periodicTick().map(pt -> millis(pt.tick())).orElse("0"));
        add(args, "id", t.id(), "queue", t.queue(), "type", t.type());
        args.add(bytes("payload"));
        args.add(t.payload());
        add(args, "state", t.initialState().wireName(), "retried", "0", "max_retry", String.valueOf(t.maxRetry()),
                "retention_ms", String.valueOf(t.retention().toMillis()), "enqueued_at", millis(t.enqueuedAt()),
                "process_at", millis(t.processAt()));
        t.timeout().ifPresent(d -> add(args, "timeout_ms", String.valueOf(d.toMillis())));
        t.deadline().ifPresent(d -> add(args, "deadline_ms", millis(d)));
        t.uniqueKey().ifPresent(k -> add(args, "unique_key", k));
        long result = integer("enqueue task " + t.id(), RedisScripts.ENQUEUE, args);
        if (result == -1) {
            throw new TaskIdConflictException(t.id());
        }
        if (result == -2 || result == -3) {
            throw new DuplicateTaskException(t.queue(), t.type(), t.duplicateMessage());
        }
        return t.toInfo();
    }

    // ------------------------------------------------------------------ server

    @Override
    public List<ClaimedTask> claim(String queue, int max, String workerId, Instant now, Duration lease) {
        if (max < 1) {
            return List.of();
        }
        String token = UUID.randomUUID().toString();
        List<Object> rows = multi("claim from queue '" + queue + "'", RedisScripts.CLAIM,
                args(prefix, queue, String.valueOf(max), millis(now), millis(now.plus(lease)), token, workerId));
        List<ClaimedTask> result = new ArrayList<>(rows.size());
        for (Object row : rows) {
            result.add(new ClaimedTask(toInfo(asHash(row)), token));
        }
        return result;
    }

    @Override
    public Set<String> renewLeases(Collection<Lease> leases, Instant expiresAt) {
        return perLease("renew %d lease(s)", RedisScripts.RENEW, leases, expiresAt);
    }

    @Override
    public boolean complete(Lease lease, Instant now) {
        return integer("complete task " + lease.taskId(), RedisScripts.COMPLETE,
                args(prefix, lease.taskId(), lease.token(), millis(now))) == 1;
    }

    @Override
    public Set<String> completeAll(Collection<Lease> leases, Instant now) {
        return perLease("complete %d task(s)", RedisScripts.COMPLETE_ALL, leases, now);
    }

    /**
     * Runs {@code script} once for all {@code leases} (arguments: the time, then task id and token
     * per lease; one 0/1 result per lease) and returns the ids of the tasks whose lease was lost.
     */
    private Set<String> perLease(String what, String script, Collection<Lease> leases, Instant time) {
        if (leases.isEmpty()) {
            return Set.of();
        }
        List<Lease> list = List.copyOf(leases);
        List<byte[]> args = args(prefix, millis(time));
        for (Lease l : list) {
            add(args, l.taskId(), l.token());
        }
        List<Object> out = multi(String.format(what, list.size()), script, args);
        Set<String> lost = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            if (((Long) out.get(i)) == 0L) {
                lost.add(list.get(i).taskId());
            }
        }
        return lost;
    }

    @Override
    public boolean retry(Lease lease, Instant now, Instant processAt, String error, boolean countRetry) {
        return integer("retry task " + lease.taskId(), RedisScripts.RETRY, args(prefix, lease.taskId(), lease.token(),
                millis(now), millis(processAt), error, countRetry ? "1" : "0")) == 1;
    }

    @Override
    public boolean archive(Lease lease, Instant now, String error) {
        return integer("archive task " + lease.taskId(), RedisScripts.ARCHIVE,
                args(prefix, lease.taskId(), lease.token(), millis(now), error)) == 1;
    }

    @Override
    public boolean writeResult(Lease lease, byte[] result) {
        List<byte[]> args = args(prefix, lease.taskId(), lease.token());
        args.add(Objects.requireNonNull(result, "result"));
        return integer("write the result of task " + lease.taskId(), RedisScripts.WRITE_RESULT, args) == 1;
    }

    @Override
    public boolean requeue(Lease lease) {
        return integer("requeue task " + lease.taskId(), RedisScripts.REQUEUE,
                args(prefix, lease.taskId(), lease.token())) == 1;
    }

    @Override
    public int forwardDue(Collection<String> queues, Instant now) {
        if (queues.isEmpty()) {
            return 0;
        }
        List<byte[]> args = args(prefix, millis(now));
        queues.forEach(q -> args.add(bytes(q)));
        return (int) integer("forward due tasks", RedisScripts.FORWARD, args);
    }

    @Override
    public Subscription subscribeArrivals(Collection<String> queues, ArrivalListener listener) {
        return arrivals.subscribe(queues, listener);
    }

    @Override
    public Optional<Instant> nextDueAt(Collection<String> queues) {
        if (queues.isEmpty()) {
            return Optional.empty();
        }
        List<byte[]> args = args(prefix);
        queues.forEach(q -> args.add(bytes(q)));
        long due = integer("find when the next task is due", RedisScripts.NEXT_DUE, args);
        return due < 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(due));
    }

    @Override
    public int recoverExpiredLeases(Collection<String> queues, Instant now, String error) {
        if (queues.isEmpty()) {
            return 0;
        }
        List<byte[]> args = args(prefix, millis(now), error);
        queues.forEach(q -> args.add(bytes(q)));
        return (int) integer("recover expired leases", RedisScripts.RECOVER, args);
    }

    @Override
    public int deleteExpiredCompleted(Instant now) {
        return (int) integer("delete expired completed tasks", RedisScripts.CLEANUP, args(prefix, millis(now)));
    }

    @Override
    public void recordStats(String queue, LocalDate day, long processed, long failed) {
        integer("record counters of queue '" + queue + "'", RedisScripts.STATS, args(prefix, queue, day.toString(),
                String.valueOf(processed), String.valueOf(failed), String.valueOf(STATS_TTL.toSeconds())));
    }

    @Override
    public void heartbeatServer(ServerInfo info, Instant expiresAt) {
        long ttl = Math.max(1, expiresAt.toEpochMilli() - info.heartbeatAt().toEpochMilli());
        List<byte[]> args = args(prefix, info.id());
        args.add(JsonCodec.defaults().encode(info));
        add(args, millis(expiresAt), String.valueOf(ttl));
        integer("record server " + info.id(), RedisScripts.HEARTBEAT, args);
    }

    @Override
    public void removeServer(String serverId) {
        call("remove server " + serverId, () -> {
            redis.del(prefix + ":server:" + serverId);
            redis.zrem(prefix + ":servers", bytes(serverId));
            return null;
        });
    }

    // ------------------------------------------------------------------ inspector

    @Override
    public List<String> queueNames() {
        return call("list queues", () -> {
            Set<String> names = new TreeSet<>();
            for (byte[] q : redis.smembers(prefix + ":queues")) {
                names.add(string(q));
            }
            for (byte[] q : redis.smembers(prefix + ":paused")) {
                names.add(string(q));
            }
            return List.copyOf(names);
        });
    }

    @Override
    public QueueInfo queueInfo(String queue, LocalDate day) {
        List<Object> v = multi("read queue '" + queue + "'", RedisScripts.QUEUE_INFO, args(prefix, queue, day.toString()));
        return QueueInfo.builder().name(queue).day(day)
                .pending(num(v.get(0)))
                .active(num(v.get(1)))
                .scheduled(num(v.get(2)))
                .retry(num(v.get(3)))
                .archived(num(v.get(4)))
                .completed(num(v.get(5)))
                .paused(num(v.get(6)) == 1)
                .processed(num(v.get(7)))
                .failed(num(v.get(8)))
                .build();
    }

    @Override
    public List<DailyStats> history(String queue, LocalDate from, LocalDate to) {
        List<LocalDate> days = new ArrayList<>();
        for (LocalDate d = from; !d.isAfter(to); d = d.plusDays(1)) {
            days.add(d);
        }
        List<byte[]> args = args(prefix, queue);
        days.forEach(d -> args.add(bytes(d.toString())));
        // One script for all days: a round trip per day took 17 ms for a 30-day history on a busy machine.
        List<Object> counters = multi("read history of queue '" + queue + "'", RedisScripts.HISTORY, args);
        List<DailyStats> result = new ArrayList<>(days.size());
        for (int i = 0; i < days.size(); i++) {
            result.add(new DailyStats(queue, days.get(i), num(counters.get(2 * i)), num(counters.get(2 * i + 1))));
        }
        return result;
    }

    @Override
    public void setPaused(String queue, boolean paused) {
        call((paused ? "pause" : "unpause") + " queue '" + queue + "'", () -> {
            if (paused) {
                redis.sadd(prefix + ":paused", bytes(queue));
            } else {
                redis.srem(prefix + ":paused", bytes(queue));
            }
            redis.sadd(prefix + ":queues", bytes(queue));
            return null;
        });
    }

    @Override
    public List<TaskInfo> listTasks(String queue, TaskState state, int offset, int limit) {
        List<Object> rows = multi("list " + state.wireName() + " tasks of queue '" + queue + "'", RedisScripts.LIST,
                args(prefix, queue, state.wireName(), String.valueOf(offset), String.valueOf(limit)));
        List<TaskInfo> result = new ArrayList<>(rows.size());
        for (Object row : rows) {
            result.add(toInfo(asHash(row)));
        }
        return result;
    }

    @Override
    public Optional<TaskInfo> getTask(String id) {
        return call("read task " + id, () -> {
            Map<String, byte[]> h = redis.hgetall(prefix + ":t:" + id);
            return h.isEmpty() ? Optional.empty() : Optional.of(toInfo(h));
        });
    }

    @Override
    public Optional<TaskState> deleteTask(String id) {
        return previousState(value("delete task " + id, RedisScripts.DELETE, args(prefix, id)));
    }

    @Override
    public Optional<TaskState> runTask(String id, Instant now) {
        return previousState(value("run task " + id, RedisScripts.RUN, args(prefix, id, millis(now))));
    }

    @Override
    public Optional<TaskState> archiveTask(String id, Instant now) {
        return previousState(value("archive task " + id, RedisScripts.ARCHIVE_TASK, args(prefix, id, millis(now))));
    }

    @Override
    public int runAllArchived(String queue, Instant now) {
        return bulkArchived(queue, now, "run");
    }

    @Override
    public int deleteAllArchived(String queue) {
        return bulkArchived(queue, Instant.EPOCH, "delete");
    }

    private int bulkArchived(String queue, Instant now, String mode) {
        int total = 0;
        long n;
        do {
            n = integer(mode + " archived tasks of queue '" + queue + "'", RedisScripts.BULK_ARCHIVED,
                    args(prefix, queue, millis(now), mode));
            total += (int) n;
        } while (n > 0);
        return total;
    }

    @Override
    public List<ServerInfo> servers(Instant now) {
        return call("list servers", () -> {
            List<ServerInfo> result = new ArrayList<>();
            List<byte[]> ids = redis.zrangebyscore(prefix + ":servers",
                    io.lettuce.core.Range.create((double) now.toEpochMilli() + 1, Double.POSITIVE_INFINITY));
            List<String> sorted = new ArrayList<>();
            for (byte[] id : ids) {
                sorted.add(string(id));
            }
            sorted.sort(null);
            for (String id : sorted) {
                byte[] json = redis.get(prefix + ":server:" + id);
                if (json != null) {
                    result.add(JsonCodec.defaults().decode(json, ServerInfo.class));
                }
            }
            return result;
        });
    }

    // ------------------------------------------------------------------ plumbing

    private static Optional<TaskState> previousState(byte[] state) {
        if (state == null || state.length == 0) {
            return Optional.empty();
        }
        return Optional.of(TaskState.fromWireName(string(state)));
    }

    private static TaskInfo toInfo(Map<String, byte[]> h) {
        TaskState state = TaskState.fromWireName(str(h, "state"));
        boolean waiting = state == TaskState.PENDING || state == TaskState.SCHEDULED || state == TaskState.RETRY;
        boolean active = state == TaskState.ACTIVE;
        return TaskInfo.builder()
                .id(str(h, "id"))
                .queue(str(h, "queue"))
                .type(str(h, "type"))
                .payload(h.getOrDefault("payload", new byte[0]))
                .state(state)
                .retried((int) parseLong(h.get("retried")))
                .maxRetry((int) parseLong(h.get("max_retry")))
                .lastError(Optional.ofNullable(h.get("last_error")).map(RedisTaskStore::string).orElse(null))
                .lastFailedAt(instant(h, "last_failed_at").orElse(null))
                .enqueuedAt(instant(h, "enqueued_at").orElse(Instant.EPOCH))
                .nextProcessAt(waiting ? instant(h, "process_at").orElse(null) : null)
                .timeout(Optional.ofNullable(h.get("timeout_ms")).map(b -> Duration.ofMillis(parseLong(b))).orElse(null))
                .deadline(instant(h, "deadline_ms").orElse(null))
                .retention(Duration.ofMillis(parseLong(h.get("retention_ms"))))
                .startedAt(active ? instant(h, "started_at").orElse(null) : null)
                .completedAt(state == TaskState.COMPLETED ? instant(h, "completed_at").orElse(null) : null)
                .worker(active ? Optional.ofNullable(h.get("lease_owner")).map(RedisTaskStore::string).orElse(null) : null)
                .leaseExpiresAt(active ? instant(h, "lease_expires_at").orElse(null) : null)
                .result(h.get("result"))
                .build();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, byte[]> asHash(Object row) {
        List<Object> flat = (List<Object>) row;
        Map<String, byte[]> h = new HashMap<>();
        for (int i = 0; i + 1 < flat.size(); i += 2) {
            h.put(string((byte[]) flat.get(i)), (byte[]) flat.get(i + 1));
        }
        return h;
    }

    private static String str(Map<String, byte[]> h, String field) {
        byte[] v = h.get(field);
        if (v == null) {
            throw new TaskStoreException("task hash is missing field '" + field + "'");
        }
        return string(v);
    }

    private static Optional<Instant> instant(Map<String, byte[]> h, String field) {
        byte[] v = h.get(field);
        return v == null ? Optional.empty() : Optional.of(Instant.ofEpochMilli(parseLong(v)));
    }

    private static long parseLong(byte[] v) {
        if (v == null || v.length == 0) {
            return 0;
        }
        String s = string(v);
        int dot = s.indexOf('.');
        return Long.parseLong(dot < 0 ? s : s.substring(0, dot));
    }

    private static long num(Object o) {
        if (o instanceof Long l) {
            return l;
        }
        if (o instanceof byte[] b) {
            return parseLong(b);
        }
        return 0;
    }

    private static String millis(Instant t) {
        return String.valueOf(t.toEpochMilli());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static List<byte[]> args(String... values) {
        List<byte[]> list = new ArrayList<>(values.length + 8);
        add(list, values);
        return list;
    }

    private static void add(List<byte[]> list, String... values) {
        for (String v : values) {
            list.add(bytes(v));
        }
    }

    private long integer(String what, String script, List<byte[]> args) {
        Object r = eval(what, script, ScriptOutputType.INTEGER, args);
        return r == null ? 0 : (Long) r;
    }

    @SuppressWarnings("unchecked")
    private List<Object> multi(String what, String script, List<byte[]> args) {
        Object r = eval(what, script, ScriptOutputType.MULTI, args);
        return r == null ? List.of() : (List<Object>) r;
    }

    private byte[] value(String what, String script, List<byte[]> args) {
        return (byte[]) eval(what, script, ScriptOutputType.VALUE, args);
    }

    /** EVALSHA, falling back to EVAL (which caches the script) when Redis does not know it yet. */
    private Object eval(String what, String script, ScriptOutputType type, List<byte[]> args) {
        byte[][] values = args.toArray(new byte[0][]);
        String sha = shas.computeIfAbsent(script, RedisTaskStore::sha1);
        return call(what, () -> {
            try {
                return redis.evalsha(sha, type, NO_KEYS, values);
            } catch (RedisNoScriptException e) {
                return redis.eval(script, type, NO_KEYS, values);
            }
        });
    }

    private <T> T call(String what, java.util.function.Supplier<T> action) {
        try {
            return action.get();
        } catch (RedisException e) {
            throw new TaskStoreException("redis task store: cannot " + what + ": " + e.getMessage(), e);
        }
    }

    private static String sha1(String script) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(bytes(script)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-1 is missing from this JVM", e);
        }
    }

    /** Configures a {@link RedisTaskStore} over a caller-owned Lettuce client. Not thread-safe. */
    public static final class Builder {
        private final RedisClient client;
        private String keyPrefix = DEFAULT_KEY_PREFIX;

        private Builder(RedisClient client) {
            this.client = Objects.requireNonNull(client, "client");
        }

        /** The prefix of every key (default {@value RedisTaskStore#DEFAULT_KEY_PREFIX}); no spaces or braces. */
        public Builder keyPrefix(String keyPrefix) {
            this.keyPrefix = checkPrefix(keyPrefix);
            return this;
        }

        static String checkPrefix(String keyPrefix) {
            Objects.requireNonNull(keyPrefix, "keyPrefix");
            if (keyPrefix.isEmpty() || keyPrefix.length() > 100 || keyPrefix.chars().anyMatch(ch ->
                    Character.isWhitespace(ch) || ch == '{' || ch == '}' || ch == '*')) {
                throw new IllegalArgumentException("keyPrefix must be 1-100 characters without whitespace, braces or *, "
                        + "but was '" + keyPrefix + "'");
            }
            return keyPrefix;
        }

        /**
         * Opens a connection.
         *
         * @throws TaskStoreException if Redis cannot be reached
         */
        public RedisTaskStore build() {
            return new RedisTaskStore(client, false, keyPrefix);
        }
    }
}
