package io.courier.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Runs the {@code tasks-} scenarios, which do not fit the publish/consume {@link Pipeline} model: a
 * task queue is measured by how fast it takes tasks in and how fast it works off a backlog.
 *
 * <p>For each chosen store, and once per run for the reference (JobRunr on PostgreSQL):
 * <ol>
 *   <li><b>Enqueue</b>: {@value #ENQUEUERS} threads enqueue N no-op tasks, one durable enqueue per
 *       call, with no server running. Rate = N / time.</li>
 *   <li><b>Burn-down</b>: a server with {@value #WORKERS} workers is started on the backlog. Rate =
 *       N / time from the first handler call to the last; the time from {@code start()} to the last
 *       call (which includes start-up and the first fetch) is recorded too.</li>
 *   <li><b>Latency</b>: on fresh tables, with the server running (default poll interval), tasks are
 *       enqueued one per call at a fixed {@value #LATENCY_RATE} tasks/s (the rate of the task-queue
 *       issue's latency goal) by the {@value #ENQUEUERS} threads, first for an unmeasured warm-up of
 *       up to {@value #LATENCY_WARMUP_SECONDS} s (at most {@code --seconds}), then for {@code --seconds};
 *       latency runs from each task's scheduled enqueue time (so an enqueuer that falls behind shows
 *       up as latency) to the start of its handler, for the tasks scheduled after the warm-up.</li>
 * </ol>
 * N is {@value #MAX_TASKS} (the figure the task-queue issue asks for) for runs of 10 s per phase or
 * more, and {@value #TASKS_PER_SECOND} per second of {@code --seconds} for shorter runs.
 *
 * <p>The {@code tasks-latency-*} scenarios run Courier's latency phase alone (no burn-down, no
 * reference), for a quick look at the enqueue-to-start latency of one store.
 */
final class TaskBench {

    /** Tasks in the burn-down of a full run. */
    static final int MAX_TASKS = 100_000;
    /** Tasks per second of {@code --seconds} when a shorter run is asked for. */
    static final int TASKS_PER_SECOND = 10_000;
    /** Workers of each side's server (JobRunr's default on this 2-core machine: 8 per core). */
    static final int WORKERS = 16;
    /** Threads enqueuing at once, on both sides. */
    static final int ENQUEUERS = 8;
    /** Tasks per second of the latency phase, on every side. */
    static final int LATENCY_RATE = 500;
    /** Longest unmeasured start of the latency phase (JIT, connection pools), seconds. */
    static final int LATENCY_WARMUP_SECONDS = 5;
    static final String REFERENCE = "JobRunr " + jobRunrVersion() + " (PostgreSQL storage, " + WORKERS + " workers, "
            + JobRunrReference.POLL_SECONDS + " s poll)";
    private static final long AWAIT_SECONDS = 1800;

    /** One system's figures. */
    record Figures(long tasks, double enqueuePerSec, double processPerSec, double burnDownSeconds) {
    }

    private TaskBench() {
    }

    /** The scenario names, in run order. */
    static List<String> names() {
        return all().stream().map(TaskScenarios.TaskScenario::name).toList();
    }

    private static List<TaskScenarios.TaskScenario> all() {
        List<TaskScenarios.TaskScenario> all = new ArrayList<>(TaskScenarios.scenarios());
        all.addAll(TaskScenarios.latencyScenarios());
        return all;
    }

    /** Prints the scenarios for {@code --list}. */
    static void list() {
        all().forEach(s -> System.out.printf("%-28s %s%n", s.name(), s.description()));
    }

    /** Removes the task scenario names from {@code names} and returns them. */
    static List<String> take(List<String> names) {
        return take(names, names());
    }

    /** Removes the names of {@code known} from {@code names} and returns them, in {@code names}' order. */
    static List<String> take(List<String> names, List<String> known) {
        List<String> taken = new ArrayList<>();
        for (Iterator<String> it = names.iterator(); it.hasNext(); ) {
            String n = it.next();
            if (known.contains(n)) {
                taken.add(n);
                it.remove();
            }
        }
        return taken;
    }

    static int tasksFor(int seconds) {
        return (int) Math.min(MAX_TASKS, (long) TASKS_PER_SECOND * seconds);
    }

    /** Runs the named task scenarios and adds their results to {@code out/latest.json} and {@code latest.md}. */
    static void run(List<String> chosen, int seconds, Path out) throws Exception {
        runLatencyOnly(chosen, seconds, out);
        chosen = chosen.stream().filter(n -> TaskScenarios.scenarios().stream().anyMatch(s -> s.name().equals(n))).toList();
        if (chosen.isEmpty()) {
            return;
        }
        int n = tasksFor(seconds);
        String loadBefore = loadAverage();
        System.out.printf(Locale.ROOT, "%n== tasks: %s; %,d no-op tasks, %d workers, %d enqueuers; load average %s%n",
                String.join(", ", chosen), n, WORKERS, ENQUEUERS, loadBefore);
        Map<String, TaskScenarios.TaskScenario> byName = new LinkedHashMap<>();
        TaskScenarios.scenarios().forEach(s -> byName.put(s.name(), s));

        // Burn-downs. JobRunr runs once, right after Courier on the same PostgreSQL when that is chosen.
        Map<String, Figures> courier = new LinkedHashMap<>();
        Figures reference = null;
        for (TaskScenarios.TaskScenario s : byName.values()) {
            if (!chosen.contains(s.name())) {
                continue;
            }
            courier.put(s.name(), burnDown("courier " + s.name(), s.courier(), n));
            if (s.name().equals("tasks-postgres")) {
                reference = burnDown("reference JobRunr", JobRunrReference::create, n);
            }
        }
        if (reference == null) {
            reference = burnDown("reference JobRunr", JobRunrReference::create, n);
        }

        // Latency at one fixed rate for everybody.
        double rate = LATENCY_RATE;
        Histogram referenceLatency = latency("reference JobRunr", JobRunrReference::create, seconds, rate);

        List<Result> results = new ArrayList<>();
        Map<String, Map<String, Object>> details = new LinkedHashMap<>();
        for (Map.Entry<String, Figures> e : courier.entrySet()) {
            TaskScenarios.TaskScenario s = byName.get(e.getKey());
            Histogram lat = latency("courier " + s.name(), s.courier(), seconds, rate);
            Figures c = e.getValue();
            double ratio = Math.round(c.processPerSec() / reference.processPerSec() * 1000) / 1000.0;
            System.out.printf(Locale.ROOT, "%s: process %,.0f/s vs JobRunr %,.0f/s = %.2fx; enqueue %,.0f/s vs %,.0f/s%n",
                    s.name(), c.processPerSec(), reference.processPerSec(), ratio, c.enqueuePerSec(), reference.enqueuePerSec());
            // One burn-down round per side; CPU per task is not measured for tasks (NaN).
            results.add(new Result(s.name(), s.description(), 8, seconds, 1, 0,
                    Math.round(c.processPerSec()), Math.round(c.enqueuePerSec()), REFERENCE,
                    Math.round(reference.processPerSec()), Math.round(reference.enqueuePerSec()), ratio,
                    Double.NaN, Double.NaN,
                    List.of((double) Math.round(c.processPerSec())), List.of((double) Math.round(reference.processPerSec())),
                    Double.NaN, Double.NaN, Double.NaN, Double.NaN, rate,
                    ms(lat, 50), ms(lat, 99), ms(referenceLatency, 50), ms(referenceLatency, 99), Machine.describe()));
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("tasks", n);
            d.put("workers", WORKERS);
            d.put("enqueuers", ENQUEUERS);
            d.put("courier_enqueue_per_s", Math.round(c.enqueuePerSec()));
            d.put("reference_enqueue_per_s", Math.round(reference.enqueuePerSec()));
            d.put("courier_burn_down_s", round2(c.burnDownSeconds()));
            d.put("reference_burn_down_s", round2(reference.burnDownSeconds()));
            d.put("latency", "enqueue to handler start, from the scheduled enqueue time, at " + LATENCY_RATE
                    + " tasks/s after a warm-up of " + latencyWarmup(seconds) + " s");
            d.put("load_average_before", loadBefore);
            d.put("load_average_after", loadAverage());
            details.put(s.name(), d);
        }
        List<Map<String, Object>> entries = new ArrayList<>();
        for (Result r : results) {
            Map<String, Object> entry = Bench.entry(r);
            entry.putAll(details.get(r.scenario()));
            entries.add(entry);
        }
        Bench.write(out, entries);
    }

    /** Runs the chosen {@code tasks-latency-*} scenarios and adds their results to the report. */
    private static void runLatencyOnly(List<String> chosen, int seconds, Path out) throws Exception {
        for (TaskScenarios.TaskScenario s : TaskScenarios.latencyScenarios()) {
            if (!chosen.contains(s.name())) {
                continue;
            }
            String loadBefore = loadAverage();
            System.out.printf(Locale.ROOT, "%n== %s: %s, %d workers, %d enqueuers; load average %s%n", s.name(),
                    s.description(), WORKERS, ENQUEUERS, loadBefore);
            Histogram lat = latency("courier " + s.name(), s.courier(), seconds, LATENCY_RATE);
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("scenario", s.name());
            entry.put("description", s.description());
            entry.put("seconds", seconds);
            entry.put("latency_rate_per_s", LATENCY_RATE);
            entry.put("courier_p50_ms", ms(lat, 50));
            entry.put("courier_p99_ms", ms(lat, 99));
            entry.put("courier_max_ms", Math.round(lat.getMaxValue() / 1e4) / 100.0);
            entry.put("workers", WORKERS);
            entry.put("enqueuers", ENQUEUERS);
            entry.put("latency", "enqueue to handler start, from the scheduled enqueue time, at " + LATENCY_RATE
                    + " tasks/s after a warm-up of " + latencyWarmup(seconds) + " s");
            entry.put("load_average_before", loadBefore);
            entry.put("machine", Machine.describe());
            Bench.write(out, List.of(entry));
        }
    }

    /** Enqueues {@code n} tasks, then starts the workers and times the burn-down. */
    static Figures burnDown(String label, TaskSystem.Factory factory, int n) throws Exception {
        try (TaskSystem system = factory.create(runId())) {
            AtomicLong next = new AtomicLong();
            long start = System.nanoTime();
            inParallel(ENQUEUERS, () -> {
                while (next.getAndIncrement() < n) {
                    system.enqueue(System.nanoTime());
                }
            });
            double enqueueSecs = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "%-24s enqueue   %,d tasks in %.1f s: %,.0f/s%n", label, n, enqueueSecs, n / enqueueSecs);

            AtomicLong ran = new AtomicLong();
            AtomicLong firstRunAt = new AtomicLong();
            AtomicLong lastRunAt = new AtomicLong();
            long startedAt = System.nanoTime();
            system.start(WORKERS, enqueuedAt -> {
                long now = System.nanoTime();
                firstRunAt.compareAndSet(0, now);
                lastRunAt.set(now);
                ran.incrementAndGet();
            });
            awaitCount(label, system, ran, n);
            long last = lastRunAt.get();
            double processSecs = Math.max(1e-3, (last - firstRunAt.get()) / 1e9);
            double burnDownSecs = (last - startedAt) / 1e9;
            System.out.printf(Locale.ROOT, "%-24s burn-down %,d tasks in %.1f s (%.1f s after start): %,.0f/s%n",
                    label, n, processSecs, burnDownSecs, n / processSecs);
            awaitSettled(label, system);
            return new Figures(n, n / enqueueSecs, n / processSecs, burnDownSecs);
        }
    }

    /** The unmeasured start of a latency phase for {@code --seconds}: at most {@value #LATENCY_WARMUP_SECONDS} s. */
    static int latencyWarmup(int seconds) {
        return Math.min(LATENCY_WARMUP_SECONDS, seconds);
    }

    /**
     * Enqueues at {@code rate} for a warm-up and then {@code seconds} with the server running; returns
     * the enqueue-to-start latency of the tasks after the warm-up.
     */
    static Histogram latency(String label, TaskSystem.Factory factory, int seconds, double rate) throws Exception {
        Recorder recorder = new Recorder(3);
        AtomicLong ran = new AtomicLong();
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicLong measuredFrom = new AtomicLong();
        try (TaskSystem system = factory.create(runId())) {
            system.start(WORKERS, enqueuedAt -> {
                if (measuring.get() && enqueuedAt - measuredFrom.get() >= 0) {
                    recorder.recordValue(Math.max(0, System.nanoTime() - enqueuedAt));
                }
                ran.incrementAndGet();
            });
            long total = Math.max(1, Math.round(rate * (seconds + latencyWarmup(seconds))));
            double intervalNanos = 1e9 / rate;
            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            measuredFrom.set(start + TimeUnit.SECONDS.toNanos(latencyWarmup(seconds)));
            measuring.set(true);
            AtomicLong next = new AtomicLong();
            inParallel(ENQUEUERS, () -> {
                long slot;
                while ((slot = next.getAndIncrement()) < total) {
                    long scheduled = start + Math.round(slot * intervalNanos);
                    long wait;
                    while ((wait = scheduled - System.nanoTime()) > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    system.enqueue(scheduled);
                }
            });
            // How far behind its schedule enqueuing ended: a store that cannot take the rate shows here.
            double enqueueBehindMs = (System.nanoTime() - (start + Math.round((total - 1) * intervalNanos))) / 1e6;
            awaitCount(label, system, ran, total);
            Histogram h = recorder.getIntervalHistogram();
            System.out.printf(Locale.ROOT, "%-24s latency at %,.0f tasks/s: p50 %.2f ms, p99 %.2f ms (enqueuing ended "
                    + "%.0f ms after its last scheduled time)%n", label, rate, ms(h, 50), ms(h, 99), enqueueBehindMs);
            awaitSettled(label, system);
            return h;
        }
    }

    private static void awaitCount(String label, TaskSystem system, AtomicLong count, long expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
        long nextReport = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (count.get() < expected) {
            long now = System.nanoTime();
            if (now > deadline) {
                throw new TimeoutException(label + ": only " + count.get() + " of " + expected + " tasks ran within "
                        + AWAIT_SECONDS + " s");
            }
            if (now > nextReport) {
                System.out.printf(Locale.ROOT, "%-24s ... %,d of %,d ran%n", label, count.get(), expected);
                String problem = system.problem();
                if (problem != null) {
                    throw new IllegalStateException(label + ": " + problem);
                }
                nextReport = now + TimeUnit.SECONDS.toNanos(10);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    /** Checks (untimed) that the store agrees every task finished: no handler result was lost. */
    private static void awaitSettled(String label, TaskSystem system) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        long left;
        while ((left = system.unfinished()) > 0) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException(label + ": " + left + " task(s) still unfinished in the store 120 s after "
                        + "their handlers ran");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
        }
    }

    @FunctionalInterface
    private interface Work {
        void run() throws Exception;
    }

    private static void inParallel(int threads, Work work) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                futures.add(pool.submit(() -> {
                    work.run();
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static double ms(Histogram h, double percentile) {
        return Math.round(h.getValueAtPercentile(percentile) / 1e4) / 100.0;
    }

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static String runId() {
        return UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static String jobRunrVersion() {
        String v = org.jobrunr.server.BackgroundJobServer.class.getPackage().getImplementationVersion();
        return v != null ? v : "";
    }
}
