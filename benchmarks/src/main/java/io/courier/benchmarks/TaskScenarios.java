package io.courier.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.courier.tasks.QueueInfo;
import io.courier.tasks.Task;
import io.courier.tasks.TaskClient;
import io.courier.tasks.TaskInspector;
import io.courier.tasks.TaskOptions;
import io.courier.tasks.TaskServer;
import io.courier.tasks.redis.RedisTaskStore;
import io.courier.tasks.spi.TaskStore;
import io.courier.tasks.sql.SqlTaskStore;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * The {@code tasks-} scenarios: Courier's task queue ({@code courier-tasks}) on SQLite, PostgreSQL
 * and Redis, each against JobRunr on PostgreSQL as the reference (see {@link TaskBench}).
 */
final class TaskScenarios {

    static final String POSTGRES_URL = "jdbc:postgresql://127.0.0.1:5432/test";
    static final String POSTGRES_USER = "postgres";
    static final String REDIS_URI = "redis://127.0.0.1:6379";
    /** Connections in each side's PostgreSQL pool (Courier's own {@code SqlTaskStore.postgres} default). */
    static final int POSTGRES_POOL = 10;
    static final String TASK_TYPE = "bench:noop";

    /**
     * One task scenario.
     *
     * @param name        the name on the command line
     * @param description one line for the report
     * @param courier     builds Courier on this scenario's store
     */
    record TaskScenario(String name, String description, TaskSystem.Factory courier) {
    }

    private TaskScenarios() {
    }

    static List<TaskScenario> scenarios() {
        return List.of(
                new TaskScenario("tasks-sqlite", "courier-tasks on SQLite (WAL file): enqueue, then burn-down of no-op tasks",
                        CourierTasks::sqlite),
                new TaskScenario("tasks-postgres", "courier-tasks on PostgreSQL: enqueue, then burn-down of no-op tasks",
                        CourierTasks::postgres),
                new TaskScenario("tasks-redis", "courier-tasks on Redis: enqueue, then burn-down of no-op tasks",
                        CourierTasks::redis));
    }

    /** The latency-only scenarios: Courier's latency phase alone, no burn-down and no reference. */
    static List<TaskScenario> latencyScenarios() {
        return List.of(
                new TaskScenario("tasks-latency-sqlite", "courier-tasks on SQLite: enqueue-to-start latency at "
                        + TaskBench.LATENCY_RATE + " tasks/s", CourierTasks::sqlite),
                new TaskScenario("tasks-latency-postgres", "courier-tasks on PostgreSQL: enqueue-to-start latency at "
                        + TaskBench.LATENCY_RATE + " tasks/s", CourierTasks::postgres),
                new TaskScenario("tasks-latency-redis", "courier-tasks on Redis: enqueue-to-start latency at "
                        + TaskBench.LATENCY_RATE + " tasks/s", CourierTasks::redis));
    }

    /** Runs {@code sql} on its own connection to the benchmark database. */
    static void postgres(String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(POSTGRES_URL, POSTGRES_USER, "");
             Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /** A pool on a fresh schema of the benchmark database (the schema must exist). */
    static HikariDataSource postgresPool(String name, String schema) {
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(POSTGRES_URL + "?currentSchema=" + schema);
        hc.setUsername(POSTGRES_USER);
        hc.setPassword("");
        hc.setPoolName(name);
        hc.setMaximumPoolSize(POSTGRES_POOL);
        return new HikariDataSource(hc);
    }

    /** Courier's client and server over one store, used as a library user would. */
    static final class CourierTasks implements TaskSystem {
        private final TaskStore store;
        private final Runnable cleanup;
        private final TaskClient client;
        private TaskServer server;

        private CourierTasks(TaskStore store, Runnable cleanup) {
            this.store = store;
            this.cleanup = cleanup;
            this.client = TaskClient.create(store);
        }

        static CourierTasks sqlite(String runId) throws Exception {
            Path dir = Files.createTempDirectory("courier-tasks-bench-");
            SqlTaskStore store = SqlTaskStore.sqlite(dir.resolve("tasks.db"));
            return new CourierTasks(store, () -> deleteTree(dir));
        }

        static CourierTasks postgres(String runId) throws Exception {
            String schema = "courier_tasks_bench_" + runId;
            TaskScenarios.postgres("CREATE SCHEMA " + schema);
            HikariDataSource pool = postgresPool("courier-tasks-bench", schema);
            SqlTaskStore store = SqlTaskStore.builder(pool).build();
            return new CourierTasks(store, () -> {
                pool.close();
                try {
                    TaskScenarios.postgres("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
                } catch (Exception e) {
                    throw new IllegalStateException("cannot drop schema " + schema, e);
                }
            });
        }

        static CourierTasks redis(String runId) {
            String prefix = "courier:tasks-bench:" + runId;
            RedisTaskStore store = RedisTaskStore.connect(REDIS_URI, prefix);
            return new CourierTasks(store, () -> deleteKeys(prefix + ":*"));
        }

        @Override
        public void enqueue(long enqueuedAtNanos) {
            client.enqueue(Task.of(TASK_TYPE, ByteBuffer.allocate(8).putLong(enqueuedAtNanos).array()),
                    TaskOptions.defaults());
        }

        @Override
        public void start(int workers, LongConsumer onRun) {
            server = TaskServer.builder(store)
                    .concurrency(workers)
                    .handler(ctx -> onRun.accept(ByteBuffer.wrap(ctx.payload()).getLong()))
                    .build()
                    .start();
        }

        @Override
        public long unfinished() {
            return TaskInspector.create(store).queue(TaskOptions.DEFAULT_QUEUE).size();
        }

        @Override
        public String problem() {
            QueueInfo q = TaskInspector.create(store).queue(TaskOptions.DEFAULT_QUEUE);
            return q.retry() + q.archived() > 0 ? q.retry() + " task(s) wait for a retry, " + q.archived() + " archived" : null;
        }

        @Override
        public void close() {
            try {
                if (server != null) {
                    server.close();
                }
            } finally {
                try {
                    store.close();
                } finally {
                    cleanup.run();
                }
            }
        }

        private static void deleteTree(Path dir) {
            try (Stream<Path> paths = Files.walk(dir)) {
                for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        static void deleteKeys(String pattern) {
            RedisClient client = RedisClient.create(REDIS_URI);
            try (StatefulRedisConnection<String, String> c = client.connect()) {
                ScanCursor cursor = ScanCursor.INITIAL;
                do {
                    KeyScanCursor<String> page = c.sync().scan(cursor, ScanArgs.Builder.matches(pattern).limit(1000));
                    if (!page.getKeys().isEmpty()) {
                        c.sync().unlink(page.getKeys().toArray(String[]::new));
                    }
                    cursor = page;
                } while (!cursor.isFinished());
            } finally {
                client.shutdown();
            }
        }
    }
}
