package io.courier.benchmarks;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives one pipeline through a throughput phase (publish as fast as possible while consuming) or a
 * latency phase (publish at a fixed rate, one message per publish, latency measured from the
 * scheduled send time so that stalls are not hidden: no coordinated omission).
 */
final class Driver {

    /** Bytes at the start of each payload: the send timestamp (nanoTime). */
    static final int HEADER_BYTES = 8;

    /** {@code cpuNanos}: this process's CPU time from the first publish until the last message was consumed. */
    record Throughput(long published, double publishPerSec, double endToEndPerSec, long cpuNanos, Histogram latency) {
        double cpuMicrosPerMessage() {
            return cpuNanos < 0 || published == 0 ? Double.NaN : cpuNanos / 1e3 / published;
        }
    }

    record Latency(long messages, double ratePerSec, Histogram latency) {
    }

    private Driver() {
    }

    static Throughput throughput(Scenario s, Scenario.PipelineFactory factory, int seconds) throws Exception {
        collectGarbage();
        AtomicLong consumed = new AtomicLong();
        AtomicLong lastConsumedAt = new AtomicLong();
        Recorder recorder = new Recorder(3);
        try (Pipeline p = factory.create(runId())) {
            p.start(payload -> {
                long now = System.nanoTime();
                recorder.recordValue(Math.max(0, now - ByteBuffer.wrap(payload).getLong()));
                consumed.incrementAndGet();
                lastConsumedAt.set(now);
            });
            AtomicLong published = new AtomicLong();
            long cpuStart = processCpuNanos();
            long start = System.nanoTime();
            long deadline = start + TimeUnit.SECONDS.toNanos(seconds);
            ExecutorService pool = Executors.newFixedThreadPool(s.publishers());
            List<Future<?>> tasks = new ArrayList<>();
            for (int t = 0; t < s.publishers(); t++) {
                tasks.add(pool.submit(() -> {
                    while (System.nanoTime() < deadline) {
                        List<byte[]> batch = new ArrayList<>(s.batchSize());
                        for (int i = 0; i < s.batchSize(); i++) {
                            batch.add(payload(s.payloadBytes(), System.nanoTime()));
                        }
                        p.publish(batch);
                        published.addAndGet(batch.size());
                    }
                    return null;
                }));
            }
            for (Future<?> f : tasks) {
                f.get();
            }
            pool.shutdown();
            long publishEnd = System.nanoTime();
            awaitConsumed(consumed, published.get(), 120);
            long cpu = cpuStart < 0 ? -1 : processCpuNanos() - cpuStart;
            long end = lastConsumedAt.get();
            double publishSecs = (publishEnd - start) / 1e9;
            double e2eSecs = (end - start) / 1e9;
            return new Throughput(published.get(), published.get() / publishSecs, published.get() / e2eSecs, cpu,
                    recorder.getIntervalHistogram());
        }
    }

    static Latency latency(Scenario s, Scenario.PipelineFactory factory, int seconds, double ratePerSec) throws Exception {
        collectGarbage();
        AtomicLong consumed = new AtomicLong();
        Recorder recorder = new Recorder(3);
        try (Pipeline p = factory.create(runId())) {
            p.start(payload -> {
                recorder.recordValue(Math.max(0, System.nanoTime() - ByteBuffer.wrap(payload).getLong()));
                consumed.incrementAndGet();
            });
            int threads = s.publishers();
            long total = Math.max(threads, (long) (ratePerSec * seconds));
            long perThread = total / threads;
            double intervalNanos = 1e9 / (ratePerSec / threads);
            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long offset = (long) (intervalNanos * t / threads);
                tasks.add(pool.submit(() -> {
                    for (long i = 0; i < perThread; i++) {
                        long scheduled = start + offset + (long) (i * intervalNanos);
                        long wait = scheduled - System.nanoTime();
                        if (wait > 0) {
                            LockSupport.parkNanos(wait);
                        }
                        p.publish(List.of(payload(s.payloadBytes(), scheduled)));
                    }
                    return null;
                }));
            }
            for (Future<?> f : tasks) {
                f.get();
            }
            pool.shutdown();
            awaitConsumed(consumed, perThread * threads, 120);
            return new Latency(perThread * threads, ratePerSec, recorder.getIntervalHistogram());
        }
    }

    /**
     * Collects the garbage of the phase before, so that a phase does not pay for the heap its
     * predecessor left behind (an in-memory transport keeps every message of its phase until closed).
     */
    private static void collectGarbage() {
        System.gc();
    }

    private static void awaitConsumed(AtomicLong consumed, long expected, int maxSeconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
        while (consumed.get() < expected) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + consumed.get() + " of " + expected
                        + " messages were consumed within " + maxSeconds + " s");
            }
            Thread.sleep(2);
        }
    }

    /** CPU time of this process so far (all threads), or -1 when the JVM does not say. */
    static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    static byte[] payload(int size, long sentAtNanos) {
        byte[] b = new byte[size];
        ByteBuffer.wrap(b).putLong(sentAtNanos);
        for (int i = HEADER_BYTES; i < size; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }

    private static String runId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
