package io.courier.benchmarks;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.zaxxer.hikari.HikariDataSource;
import io.courier.tasks.TaskInspector;
import io.courier.tasks.TaskState;
import io.courier.tasks.redis.RedisTaskStore;
import io.courier.tasks.spi.TaskStore;
import io.courier.tasks.sql.SqlTaskStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The {@code inspector-} scenarios: how long each {@link TaskInspector} call a dashboard page makes
 * takes on a store holding many tasks ({@value #DEFAULT_TASKS} by default; the environment variable
 * {@code COURIER_INSPECTOR_TASKS} changes it). Only run when named:
 * {@code scripts/bench --out /tmp/inspector inspector-postgres inspector-sqlite inspector-redis}.
 *
 * <p>The tasks are written in bulk, not through the client: PostgreSQL and SQLite fill the tasks
 * table with {@code INSERT ... SELECT} over a generated series (the store's counters are kept by its
 * triggers, as for any write), Redis with pipelined commands that write the keys its scripts write.
 * They are spread over three queues ({@code default} 60 %, {@code critical} 20 %, {@code low} 20 %)
 * and, in each, over the states: 0.1 % active, 40 % pending, 15 % scheduled, 10 % retry, 10 %
 * archived, 24.9 % completed (kept for a day). No server runs.
 *
 * <p>Then each call is made {@value #CALLS} times (after {@value #WARMUP_CALLS} unmeasured ones):
 * {@code queues()} (every queue's summary), {@code queue(name)}, the first page (20 tasks) of each
 * state's listing, {@code task(id)} for random ids, {@code history(queue, 30)} and {@code servers()}.
 * The median and the largest time of each are reported, on the filled store as it is and, for SQL,
 * again after {@code ANALYZE} (PostgreSQL: {@code VACUUM ANALYZE}). Results go to {@code inspector.json} and {@code inspector.md} in the
 * output directory (not to {@code latest.*}).
 */
final class InspectorBench {

    static final int DEFAULT_TASKS = 1_000_000;
    static final int CALLS = 50;
    static final int WARMUP_CALLS = 5;
    static final int PAGE_SIZE = 20;
    static final List<String> QUEUES = List.of("default", "critical", "low");
    private static final int FILL_CHUNK = 100_000;
    private static final long BASE_MILLIS = 1_700_000_000_000L;

    private InspectorBench() {
    }

    /** The scenario names, in run order. */
    static List<String> names() {
        return List.of("inspector-postgres", "inspector-sqlite", "inspector-redis");
    }

    /** Prints the scenarios for {@code --list}. */
    static void list() {
        System.out.printf("%-28s %s%n", "inspector-postgres", "TaskInspector call times with 1,000,000 tasks on PostgreSQL (only when named)");
        System.out.printf("%-28s %s%n", "inspector-sqlite", "the same on SQLite (only when named)");
        System.out.printf("%-28s %s%n", "inspector-redis", "the same on Redis (only when named)");
    }

    /** Removes the inspector scenario names from {@code names} and returns them. */
    static List<String> take(List<String> names) {
        return TaskBench.take(names, names());
    }

    /** Runs the named scenarios and writes {@code out/inspector.json} and {@code out/inspector.md}. */
    static void run(List<String> chosen, Path out) throws Exception {
        if (chosen.isEmpty()) {
            return;
        }
        int tasks = Integer.parseInt(System.getenv().getOrDefault("COURIER_INSPECTOR_TASKS", String.valueOf(DEFAULT_TASKS)));
        List<Map<String, Object>> results = new ArrayList<>();
        for (String name : chosen) {
            System.out.printf(Locale.ROOT, "%n== %s: %,d tasks; load average %s%n", name, tasks, Machine.loadAverage());
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("scenario", name);
            entry.put("tasks", tasks);
            try {
                switch (name) {
                    case "inspector-postgres" -> postgres(tasks, entry);
                    case "inspector-sqlite" -> sqlite(tasks, entry);
                    case "inspector-redis" -> redis(tasks, entry);
                    default -> throw new IllegalArgumentException("unknown inspector scenario " + name);
                }
            } catch (Exception | AssertionError e) {
                System.err.printf("%n!! scenario %s failed:%n", name);
                e.printStackTrace();
                entry.put("error", String.valueOf(e));
            }
            entry.put("load_average_after", Machine.loadAverage());
            results.add(entry);
            write(out, results);
        }
        if (results.stream().anyMatch(r -> r.containsKey("error"))) {
            throw new IllegalStateException("an inspector scenario failed; see above");
        }
    }

    // ------------------------------------------------------------------ stores

    private static void postgres(int tasks, Map<String, Object> entry) throws Exception {
        String schema = "courier_inspector_bench_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        TaskScenarios.postgres("CREATE SCHEMA " + schema);
        try (HikariDataSource pool = TaskScenarios.postgresPool("courier-inspector-bench", schema);
             SqlTaskStore store = SqlTaskStore.builder(pool).build()) {
            fillSql(store, tasks, "generate_series(1, %d) AS s(i)", "decode('7b7d', 'hex')", entry);
            entry.put("calls_ms", measure(store, tasks));
            entry.put("v2_count_ms", timeOldCount(store));
            try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
                // VACUUM too, so that autovacuum, which the fill has just made due, does not run during the measurement.
                s.execute("VACUUM ANALYZE " + store.tablePrefix() + "tasks");
            }
            System.out.println("after VACUUM ANALYZE:");
            entry.put("calls_after_analyze_ms", measure(store, tasks));
        } finally {
            TaskScenarios.postgres("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
    }

    private static void sqlite(int tasks, Map<String, Object> entry) throws Exception {
        Path dir = Files.createTempDirectory("courier-inspector-bench-");
        try (SqlTaskStore store = SqlTaskStore.sqlite(dir.resolve("tasks.db"))) {
            fillSql(store, tasks, "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) SELECT i FROM n) s",
                    "X'7b7d'", entry);
            entry.put("calls_ms", measure(store, tasks));
            entry.put("v2_count_ms", timeOldCount(store));
            try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement()) {
                s.execute("ANALYZE");
            }
            System.out.println("after ANALYZE:");
            entry.put("calls_after_analyze_ms", measure(store, tasks));
        } finally {
            try (var paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void redis(int tasks, Map<String, Object> entry) throws Exception {
        String prefix = "courier:inspector-bench:" + UUID.randomUUID().toString().substring(0, 12);
        try (RedisTaskStore store = RedisTaskStore.connect(TaskScenarios.REDIS_URI, prefix)) {
            fillRedis(prefix, tasks, entry);
            entry.put("calls_ms", measure(store, tasks));
        } finally {
            TaskScenarios.CourierTasks.deleteKeys(prefix + ":*");
        }
    }

    // ------------------------------------------------------------------ filling

    /** The state of task {@code i} (1-based): 0.1 % active, 40 % pending, 15 % scheduled, 10 % retry, 10 % archived, the rest completed. */
    static TaskState stateOf(long i) {
        long k = (i / 3) % 1000;
        return k < 1 ? TaskState.ACTIVE : k < 401 ? TaskState.PENDING : k < 551 ? TaskState.SCHEDULED
                : k < 651 ? TaskState.RETRY : k < 751 ? TaskState.ARCHIVED : TaskState.COMPLETED;
    }

    /** The queue of task {@code i}: 60 % default, 20 % critical, 20 % low. */
    static String queueOf(long i) {
        long k = i % 10;
        return k < 6 ? "default" : k < 8 ? "critical" : "low";
    }

    /** {@link #stateOf} and {@link #queueOf} in SQL, over a column {@code i}. */
    private static final String STATE_SQL = "CASE WHEN (i / 3) % 1000 < 1 THEN 'active' WHEN (i / 3) % 1000 < 401 THEN 'pending' "
            + "WHEN (i / 3) % 1000 < 551 THEN 'scheduled' WHEN (i / 3) % 1000 < 651 THEN 'retry' "
            + "WHEN (i / 3) % 1000 < 751 THEN 'archived' ELSE 'completed' END";
    private static final String QUEUE_SQL = "CASE WHEN i % 10 < 6 THEN 'default' WHEN i % 10 < 8 THEN 'critical' ELSE 'low' END";

    private static void fillSql(SqlTaskStore store, int tasks, String series, String payload, Map<String, Object> entry)
            throws Exception {
        String t = store.tablePrefix() + "tasks";
        // One statement per chunk: the states are computed by the inner select, the columns that depend
        // on the state by the outer one.
        String sql = "INSERT INTO " + t + " (id, queue, type, payload, state, retried, max_retry, retention_ms, enqueued_at, "
                + "process_at, last_error, last_failed_at, started_at, lease_owner, lease_token, lease_expires_at, completed_at, "
                + "expires_at) SELECT 'bench-' || i, queue, 'bench:noop', " + payload + ", state, "
                + "CASE WHEN state IN ('retry', 'archived') THEN 1 ELSE 0 END, 25, "
                + "CASE WHEN state = 'completed' THEN 86400000 ELSE 0 END, " + BASE_MILLIS + ", "
                + "CASE WHEN state = 'scheduled' THEN " + (BASE_MILLIS + 3_600_000_000L) + " + i ELSE " + BASE_MILLIS + " + i END, "
                + "CASE WHEN state IN ('retry', 'archived') THEN 'java.lang.IllegalStateException: bench' END, "
                + "CASE WHEN state IN ('retry', 'archived') THEN " + BASE_MILLIS + " + i END, "
                + "CASE WHEN state = 'active' THEN " + BASE_MILLIS + " + i END, "
                + "CASE WHEN state = 'active' THEN 'bench-worker' END, "
                + "CASE WHEN state = 'active' THEN 'bench-' || i END, "
                + "CASE WHEN state = 'active' THEN " + (BASE_MILLIS + 3_600_000_000L) + " END, "
                + "CASE WHEN state = 'completed' THEN " + BASE_MILLIS + " + i END, "
                + "CASE WHEN state = 'completed' THEN " + (BASE_MILLIS + 86_400_000L) + " + i END "
                + "FROM (SELECT i, " + QUEUE_SQL + " AS queue, " + STATE_SQL + " AS state FROM " + series
                + " WHERE i > ?) x";
        long start = System.nanoTime();
        try (Connection c = store.dataSource().getConnection()) {
            for (int from = 0; from < tasks; from += FILL_CHUNK) {
                int to = Math.min(tasks, from + FILL_CHUNK);
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement(sql.replace("%d", String.valueOf(to)))) {
                    ps.setLong(1, from);
                    ps.executeUpdate();
                }
                c.commit();
                c.setAutoCommit(true);
            }
        }
        reportFill(tasks, start, entry);
    }

    private static void fillRedis(String p, int tasks, Map<String, Object> entry) throws Exception {
        long start = System.nanoTime();
        RedisClient client = RedisClient.create(TaskScenarios.REDIS_URI);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            c.setAutoFlushCommands(false);
            RedisAsyncCommands<String, String> r = c.async();
            List<RedisFuture<?>> pending = new ArrayList<>();
            r.sadd(p + ":queues", QUEUES.toArray(String[]::new));
            for (long i = 1; i <= tasks; i++) {
                String id = "bench-" + i;
                String q = queueOf(i);
                TaskState state = stateOf(i);
                Map<String, String> h = new LinkedHashMap<>();
                h.put("id", id);
                h.put("queue", q);
                h.put("type", "bench:noop");
                h.put("payload", "{}");
                h.put("state", state.wireName());
                h.put("retried", state == TaskState.RETRY || state == TaskState.ARCHIVED ? "1" : "0");
                h.put("max_retry", "25");
                h.put("retention_ms", state == TaskState.COMPLETED ? "86400000" : "0");
                h.put("enqueued_at", String.valueOf(BASE_MILLIS));
                long processAt = state == TaskState.SCHEDULED ? BASE_MILLIS + 3_600_000_000L + i : BASE_MILLIS + i;
                h.put("process_at", String.valueOf(processAt));
                String k = p + ":q:" + q + ":" + state.wireName();
                switch (state) {
                    case PENDING -> pending.add(r.lpush(k, id));
                    case ACTIVE -> {
                        long expires = BASE_MILLIS + 3_600_000_000L;
                        h.put("started_at", String.valueOf(BASE_MILLIS + i));
                        h.put("lease_owner", "bench-worker");
                        h.put("lease_token", id);
                        h.put("lease_expires_at", String.valueOf(expires));
                        pending.add(r.zadd(k, expires, id));
                    }
                    case SCHEDULED, RETRY, ARCHIVED -> {
                        if (state != TaskState.SCHEDULED) {
                            h.put("last_error", "java.lang.IllegalStateException: bench");
                            h.put("last_failed_at", String.valueOf(BASE_MILLIS + i));
                        }
                        pending.add(r.zadd(k, processAt, id));
                    }
                    case COMPLETED -> {
                        long expires = BASE_MILLIS + 86_400_000L + i;
                        h.put("completed_at", String.valueOf(BASE_MILLIS + i));
                        h.put("expires_at", String.valueOf(expires));
                        pending.add(r.zadd(k, expires, id));
                    }
                }
                pending.add(r.hset(p + ":t:" + id, h));
                if (pending.size() >= 20_000) {
                    flush(c, pending);
                }
            }
            flush(c, pending);
        } finally {
            client.shutdown();
        }
        reportFill(tasks, start, entry);
    }

    private static void flush(StatefulRedisConnection<String, String> c, List<RedisFuture<?>> pending) throws Exception {
        c.flushCommands();
        for (RedisFuture<?> f : pending) {
            f.get(60, TimeUnit.SECONDS);
        }
        pending.clear();
    }

    private static void reportFill(int tasks, long start, Map<String, Object> entry) {
        double secs = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "filled %,d tasks in %.1f s (%,.0f/s)%n", tasks, secs, tasks / secs);
        entry.put("fill_s", Math.round(secs * 10) / 10.0);
    }

    // ------------------------------------------------------------------ measuring

    /** Times every dashboard call; returns call name to {median, max} in milliseconds. */
    private static Map<String, double[]> measure(TaskStore store, int tasks) {
        TaskInspector inspector = TaskInspector.create(store);
        Map<String, double[]> times = new LinkedHashMap<>();
        Map<TaskState, Long> expected = expectedCounts(tasks, "default");
        time(times, "queues()", () -> {
            long total = inspector.queues().stream().mapToLong(q -> q.size() + q.completed()).sum();
            check(total == tasks, "queues() counted " + total + " tasks, not " + tasks);
            return total;
        });
        time(times, "queue(default)", () -> {
            var q = inspector.queue("default");
            for (TaskState s : TaskState.values()) {
                check(q.count(s) == expected.get(s), "queue(default) counted " + q.count(s) + " " + s + ", not " + expected.get(s));
            }
            return q;
        });
        for (TaskState state : TaskState.values()) {
            time(times, "listTasks(default, " + state.wireName() + ", 0, " + PAGE_SIZE + ")", () -> {
                var page = inspector.listTasks("default", state, 0, PAGE_SIZE);
                check(page.size() == Math.min(PAGE_SIZE, expected.get(state)), state + " page has " + page.size() + " tasks");
                return page;
            });
        }
        Random random = new Random(42);
        time(times, "task(id)", () -> {
            String id = "bench-" + (1 + random.nextInt(tasks));
            return inspector.task(id).orElseThrow(() -> new AssertionError("task " + id + " is missing"));
        });
        time(times, "history(default, 30)", () -> inspector.history("default", 30));
        time(times, "servers()", inspector::servers);
        return times;
    }

    private static void time(Map<String, double[]> times, String call, Supplier<?> action) {
        for (int i = 0; i < WARMUP_CALLS; i++) {
            action.get();
        }
        double[] ms = new double[CALLS];
        for (int i = 0; i < CALLS; i++) {
            long t0 = System.nanoTime();
            action.get();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        double median = round3(ms[CALLS / 2]);
        double max = round3(ms[CALLS - 1]);
        System.out.printf(Locale.ROOT, "  %-36s median %8.3f ms   max %8.3f ms%n", call, median, max);
        times.put(call, new double[] {median, max});
    }

    /** For comparison: what schema version 2's queue summary did, one COUNT(*) per state of a queue. */
    private static double timeOldCount(SqlTaskStore store) throws Exception {
        StringBuilder sql = new StringBuilder();
        for (TaskState state : TaskState.values()) {
            sql.append(sql.length() == 0 ? "" : " UNION ALL ").append("SELECT COUNT(*) FROM ").append(store.tablePrefix())
                    .append("tasks WHERE queue = 'default' AND state = '").append(state.wireName()).append("'");
        }
        double[] ms = new double[5];
        try (Connection c = store.dataSource().getConnection(); Statement s = c.createStatement()) {
            for (int i = 0; i < ms.length; i++) {
                long t0 = System.nanoTime();
                s.executeQuery(sql.toString()).close();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        Arrays.sort(ms);
        System.out.printf(Locale.ROOT, "  %-36s median %8.3f ms (counting the tasks, as schema v2 did)%n",
                "COUNT(*) per state of default", ms[2]);
        return round3(ms[2]);
    }

    private static Map<TaskState, Long> expectedCounts(int tasks, String queue) {
        Map<TaskState, Long> counts = new LinkedHashMap<>();
        for (TaskState s : TaskState.values()) {
            counts.put(s, 0L);
        }
        for (long i = 1; i <= tasks; i++) {
            if (queueOf(i).equals(queue)) {
                counts.merge(stateOf(i), 1L, Long::sum);
            }
        }
        return counts;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }

    private static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    // ------------------------------------------------------------------ report

    private static void write(Path out, List<Map<String, Object>> results) throws Exception {
        Files.createDirectories(out);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("inspector.json").toFile(), results);
        StringBuilder md = new StringBuilder("# Inspector call times\n\nWritten by `scripts/bench` (`inspector-*`) on ")
                .append(java.time.Instant.now()).append(".\n\nMachine: ").append(Machine.oneLine())
                .append(". Median / largest of ").append(CALLS).append(" calls, in ms, no server running.\n\n");
        for (Map<String, Object> r : results) {
            md.append("## ").append(r.get("scenario")).append("\n\n");
            if (r.get("error") != null) {
                md.append("**failed**: ").append(r.get("error")).append("\n\n");
                continue;
            }
            md.append(String.format(Locale.ROOT, "%,d tasks, filled in %s s.", (Integer) r.get("tasks"), r.get("fill_s")));
            if (r.get("v2_count_ms") != null) {
                md.append(" Counting the states of `default` with `COUNT(*)` (schema v2's summary): ")
                        .append(r.get("v2_count_ms")).append(" ms.");
            }
            md.append("\n\n| call | median / max ms |");
            boolean analyzed = r.containsKey("calls_after_analyze_ms");
            md.append(analyzed ? " after ANALYZE |\n|---|---:|---:|\n" : "\n|---|---:|\n");
            @SuppressWarnings("unchecked")
            Map<String, double[]> calls = (Map<String, double[]>) r.get("calls_ms");
            @SuppressWarnings("unchecked")
            Map<String, double[]> after = (Map<String, double[]>) r.get("calls_after_analyze_ms");
            for (Map.Entry<String, double[]> e : calls.entrySet()) {
                md.append("| `").append(e.getKey()).append("` | ").append(pair(e.getValue())).append(" |");
                md.append(analyzed ? " " + pair(after.get(e.getKey())) + " |\n" : "\n");
            }
            md.append("\n");
        }
        Files.writeString(out.resolve("inspector.md"), md.toString());
    }

    private static String pair(double[] v) {
        return String.format(Locale.ROOT, "%.2f / %.2f", v[0], v[1]);
    }
}
