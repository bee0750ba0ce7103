package io.courier.benchmarks;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives one pipeline through a throughput phase (publish as fast as possible while consuming) or a
 * latency phase (publish at a fixed rate, one message per publish, latency measured from the
 * scheduled send time so that stalls are not hidden: no coordinated omission).
 *
 * <p>A phase never hangs on a broken pipeline: publishers run on daemon threads; when one publisher
 * fails, the others are stopped (they check a flag between publishes and are interrupted) and the
 * phase fails with that publisher's exception; publishers that have not finished
 * {@value #PUBLISH_GRACE_SECONDS} s after the phase should have ended fail the phase too, and so does
 * a consumer that falls short of the published count for {@value #CONSUME_TIMEOUT_SECONDS} s.
 */
final class Driver {

    /** Bytes at the start of each payload: the send timestamp (nanoTime). */
    static final int HEADER_BYTES = 8;
    /** How long publishers may overrun the end of their phase (a last publish in progress) before the phase fails. */
    static final int PUBLISH_GRACE_SECONDS = 120;
    /** How long the consumer may take, after the last publish, to handle everything published. */
    static final int CONSUME_TIMEOUT_SECONDS = 120;

    /** {@code cpuNanos}: this process's CPU time from the first publish until the last message was consumed. */
    record Throughput(long published, double publishPerSec, double endToEndPerSec, long cpuNanos, Histogram latency) {
        double cpuMicrosPerMessage() {
            return cpuNanos < 0 || published == 0 ? Double.NaN : cpuNanos / 1e3 / published;
        }
    }

    record Latency(long messages, double ratePerSec, Histogram latency) {
    }

    /** One publishing thread's work; {@code stopped} turns true when another publisher failed. */
    @FunctionalInterface
    private interface PublisherTask {
        void run(BooleanSupplier stopped) throws Exception;
    }

    private Driver() {
    }

    /** A throughput phase: {@link Scenario#batchSize()} messages per publish. */
    static Throughput throughput(Scenario s, Scenario.PipelineFactory factory, int seconds) throws Exception {
        return throughput(s, factory, seconds, s.batchSize());
    }

    /**
     * A throughput phase with {@code batchSize} messages per publish: {@link Scenario#publishers()}
     * threads publish as fast as they can for {@code seconds} while the pipeline's consumer drains.
     * With a batch size of 1 this is the probe that finds a side's single-message rate. In a
     * {@linkplain Scenario#publishOnly() publish-only} scenario nothing is consumed or awaited, and
     * both rates are the publish rate.
     */
    static Throughput throughput(Scenario s, Scenario.PipelineFactory factory, int seconds, int batchSize) throws Exception {
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
            runPublishers(s.publishers(), seconds, stopped -> {
                while (System.nanoTime() < deadline && !stopped.getAsBoolean()) {
                    List<byte[]> batch = new ArrayList<>(batchSize);
                    for (int i = 0; i < batchSize; i++) {
                        batch.add(payload(s.payloadBytes(), System.nanoTime()));
                    }
                    p.publish(batch);
                    published.addAndGet(batch.size());
                }
            });
            long publishEnd = System.nanoTime();
            if (s.publishOnly()) {
                // Nothing consumes: every publish returned once its messages were durable, so the
                // end-to-end rate is the publish rate.
                long cpu = cpuStart < 0 ? -1 : processCpuNanos() - cpuStart;
                double rate = published.get() / ((publishEnd - start) / 1e9);
                return new Throughput(published.get(), rate, rate, cpu, recorder.getIntervalHistogram());
            }
            awaitConsumed(consumed, published.get(), CONSUME_TIMEOUT_SECONDS);
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
            AtomicInteger next = new AtomicInteger();
            runPublishers(threads, seconds, stopped -> {
                long offset = (long) (intervalNanos * next.getAndIncrement() / threads);
                for (long i = 0; i < perThread && !stopped.getAsBoolean(); i++) {
                    long scheduled = start + offset + (long) (i * intervalNanos);
                    long wait = scheduled - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    p.publish(List.of(payload(s.payloadBytes(), scheduled)));
                }
            });
            awaitConsumed(consumed, perThread * threads, CONSUME_TIMEOUT_SECONDS);
            return new Latency(perThread * threads, ratePerSec, recorder.getIntervalHistogram());
        }
    }

    /**
     * Runs {@code task} on {@code threads} daemon threads and returns when all have finished. The first
     * failure stops the others and is thrown (wrapped in an {@link IllegalStateException} naming the
     * phase's cause); so is a publisher still running {@value #PUBLISH_GRACE_SECONDS} s after the
     * phase's {@code seconds}. The threads are always shut down, interrupted if need be.
     */
    private static void runPublishers(int threads, int seconds, PublisherTask task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "bench-publisher");
            t.setDaemon(true);
            return t;
        });
        AtomicBoolean stop = new AtomicBoolean();
        try {
            ExecutorCompletionService<Void> done = new ExecutorCompletionService<>(pool);
            for (int t = 0; t < threads; t++) {
                done.submit(() -> {
                    task.run(stop::get);
                    return null;
                });
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds + PUBLISH_GRACE_SECONDS);
            for (int finished = 0; finished < threads; finished++) {
                Future<Void> f = done.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (f == null) {
                    stop.set(true);
                    throw new IllegalStateException((threads - finished) + " of " + threads + " publishers were still publishing "
                            + PUBLISH_GRACE_SECONDS + " s after the end of their " + seconds + " s phase (a publish that never returns?)");
                }
                try {
                    f.get();
                } catch (ExecutionException e) {
                    stop.set(true);
                    Throwable cause = e.getCause();
                    throw new IllegalStateException("a publisher failed: " + cause, cause);
                }
            }
        } finally {
            stop.set(true);
            pool.shutdownNow();
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

    /** Payload filler (a-z repeated), copied rather than computed per byte: a per-byte loop cost ~1 us per KiB on both sides. */
    private static final byte[] FILLER = filler(64 * 1024);

    static byte[] payload(int size, long sentAtNanos) {
        byte[] b = size <= FILLER.length ? Arrays.copyOf(FILLER, size) : filler(size);
        ByteBuffer.wrap(b).putLong(sentAtNanos);
        return b;
    }

    private static byte[] filler(int size) {
        byte[] b = new byte[size];
        for (int i = HEADER_BYTES; i < size; i++) {
            b[i] = (byte) ('a' + i % 26);
        }
        return b;
    }

    private static String runId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
