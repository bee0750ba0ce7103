package io.courier.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import java.util.function.LongConsumer;
import org.jobrunr.jobs.mappers.JobMapper;
import org.jobrunr.scheduling.JobScheduler;
import org.jobrunr.server.BackgroundJobServer;
import org.jobrunr.server.BackgroundJobServerConfiguration;
import org.jobrunr.server.JobActivator;
import org.jobrunr.storage.JobStats;
import org.jobrunr.storage.StorageProviderUtils.DatabaseOptions;
import org.jobrunr.storage.sql.postgres.PostgresStorageProvider;
import org.jobrunr.utils.mapper.jackson.JacksonJsonMapper;

/**
 * The reference for the {@code tasks-} scenarios: JobRunr with its PostgreSQL storage provider on the
 * same database as Courier (a fresh schema per phase, dropped after), a {@link JobScheduler} to
 * enqueue and a {@link BackgroundJobServer} with the same worker count as Courier's server.
 *
 * <p>Built from JobRunr's constructors rather than its static {@code JobRunr.configure()}, so that
 * each phase gets its own storage and server. The poll interval is JobRunr's smallest allowed
 * ({@value #POLL_SECONDS} s, default 15 s): JobRunr looks for enqueued jobs when it polls and when
 * its workers run low, so a shorter poll only helps it.
 *
 * <p>Public only because JobRunr calls {@link #noop(long)} by reflection; not an API.
 */
public final class JobRunrReference implements TaskSystem {

    /** JobRunr's poll interval in this benchmark (its minimum; its default is 15 s). */
    static final int POLL_SECONDS = 5;

    /** Where the no-op job reports; set by {@link #start}. JobRunr calls static job methods without an instance. */
    private static volatile LongConsumer onRun = t -> { };

    private final String schema;
    private final HikariDataSource pool;
    private final PostgresStorageProvider storage;
    private final JobScheduler scheduler;
    private BackgroundJobServer server;

    private JobRunrReference(String schema) throws Exception {
        this.schema = schema;
        TaskScenarios.postgres("CREATE SCHEMA " + schema);
        this.pool = TaskScenarios.postgresPool("jobrunr-bench", schema);
        this.storage = new PostgresStorageProvider(pool, DatabaseOptions.CREATE);
        this.storage.setJobMapper(new JobMapper(new JacksonJsonMapper()));
        this.scheduler = new JobScheduler(storage);
    }

    static JobRunrReference create(String runId) throws Exception {
        return new JobRunrReference("jobrunr_bench_" + runId);
    }

    /**
     * The no-op job: reports its enqueue time to the benchmark. Public and static so that JobRunr can
     * call it from the stored job details.
     *
     * @param enqueuedAtNanos {@link System#nanoTime()} when the job was (meant to be) enqueued
     */
    public static void noop(long enqueuedAtNanos) {
        onRun.accept(enqueuedAtNanos);
    }

    @Override
    public void enqueue(long enqueuedAtNanos) {
        scheduler.enqueue(() -> JobRunrReference.noop(enqueuedAtNanos));
    }

    @Override
    public void start(int workers, LongConsumer onRun) {
        JobRunrReference.onRun = onRun;
        JobActivator noInstances = new JobActivator() {
            @Override
            public <T> T activateJob(Class<T> type) {
                return null;   // the job method is static
            }
        };
        server = new BackgroundJobServer(storage, new JacksonJsonMapper(), noInstances,
                BackgroundJobServerConfiguration.usingStandardBackgroundJobServerConfiguration()
                        .andWorkerCount(workers)
                        .andPollInterval(Duration.ofSeconds(POLL_SECONDS)));
        server.start();
    }

    @Override
    public long unfinished() {
        JobStats s = storage.getJobStats();
        return s.getAwaiting() + s.getScheduled() + s.getEnqueued() + s.getProcessing();
    }

    @Override
    public String problem() {
        JobStats s = storage.getJobStats();
        return s.getFailed() > 0 || s.getScheduled() > 0
                ? s.getFailed() + " job(s) failed and " + s.getScheduled() + " wait for a retry" : null;
    }

    @Override
    public void close() throws Exception {
        try {
            if (server != null) {
                server.stop();
            }
        } finally {
            onRun = t -> { };
            storage.close();
            pool.close();
            TaskScenarios.postgres("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        }
    }
}
