package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.JsonCodec;
import io.courier.tasks.memory.InMemoryTaskStore;
import io.courier.tasks.spi.ClaimedTask;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ProcessorTest {

    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private final InMemoryTaskStore store = InMemoryTaskStore.create();
    private final TaskClient client = TaskClient.create(store);
    private final TaskInspector inspector = TaskInspector.create(store);
    private final Workers workers = new Workers(4);
    private final Counters counters = new Counters();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ScheduledExecutorService watchdogs = Executors.newSingleThreadScheduledExecutor();
    private final List<Instant> retriesDue = new CopyOnWriteArrayList<>();

    @AfterEach
    void stopThreads() {
        threads.shutdownNow();
        watchdogs.shutdownNow();
    }

    private Processor processor(TaskHandler handler) {
        return processor(handler, RetryDelay.fixed(Duration.ofSeconds(5)), e -> true);
    }

    private Processor processor(TaskHandler handler, RetryDelay delay, java.util.function.Predicate<Throwable> isFailure) {
        Processor.Settings settings = new Processor.Settings(handler, delay, isFailure, Duration.ofMinutes(30),
                Duration.ofSeconds(1), 1024, JsonCodec.defaults());
        return new Processor(store, settings, workers, new Completions(store, workers, counters, Clock.systemUTC(), 4),
                counters, threads, watchdogs, Clock.systemUTC(), retriesDue::add);
    }

    /** Claims {@code task} as a fetcher would: a slot first, then the store's claim. */
    private ClaimedTask claim(TaskInfo task) throws InterruptedException {
        assertThat(workers.take(1, Duration.ZERO)).isEqualTo(1);
        return store.claim(task.queue(), 1, "processor-test", Instant.now(), Duration.ofMinutes(1)).get(0);
    }

    private TaskInfo awaitState(String id, TaskState state) {
        await().atMost(PATIENCE).until(() -> inspector.task(id).map(TaskInfo::state).orElse(null) == state);
        return inspector.task(id).orElseThrow();
    }

    @Test
    void aSuccessfulAttemptCompletesTheTaskAndFreesItsSlot() throws Exception {
        TaskInfo task = client.enqueue(Task.of("ok"), TaskOptions.builder().retention(Duration.ofHours(1)).build());
        Processor p = processor(ctx -> ctx.writeResult(new byte[] {7}));

        p.dispatch(claim(task));

        TaskInfo done = awaitState(task.id(), TaskState.COMPLETED);
        assertThat(done.result()).hasValueSatisfying(r -> assertThat(r).containsExactly(7));
        await().atMost(PATIENCE).until(() -> workers.count() == 0);
        assertThat(workers.take(4, Duration.ZERO)).isEqualTo(4);
        counters.flushTo(store);
        assertThat(inspector.queue("default").processed()).isEqualTo(1);
        assertThat(inspector.queue("default").failed()).isZero();
    }

    @Test
    void aFailedAttemptIsRetriedAfterTheDelayAndTellsWhenItIsDue() throws Exception {
        TaskInfo task = client.enqueue(Task.of("flaky"), TaskOptions.builder().maxRetry(3).build());
        Instant before = Instant.now();
        Processor p = processor(ctx -> {
            throw new IllegalStateException("boom");
        });

        p.dispatch(claim(task));

        TaskInfo retry = awaitState(task.id(), TaskState.RETRY);
        assertThat(retry.retried()).isEqualTo(1);
        assertThat(retry.lastError()).contains("java.lang.IllegalStateException: boom");
        assertThat(retry.nextProcessAt().orElseThrow()).isAfterOrEqualTo(before.plusSeconds(5).minusMillis(1));
        assertThat(retriesDue).hasSize(1);
        await().atMost(PATIENCE).until(() -> workers.count() == 0);
        counters.flushTo(store);
        assertThat(inspector.queue("default").failed()).isEqualTo(1);
    }

    @Test
    void anAttemptPastItsTimeoutIsInterruptedAndSettledAsFailed() throws Exception {
        TaskInfo task = client.enqueue(Task.of("slow"), TaskOptions.builder().timeout(Duration.ofMillis(100)).maxRetry(0).build());
        AtomicBoolean interrupted = new AtomicBoolean();
        Processor p = processor(ctx -> {
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException e) {
                interrupted.set(true);
                throw e;
            }
        });

        p.dispatch(claim(task));

        TaskInfo archived = awaitState(task.id(), TaskState.ARCHIVED);
        assertThat(archived.lastError()).hasValueSatisfying(e -> assertThat(e).startsWith(
                "io.courier.tasks.TaskTimeoutException: attempt timed out after PT0.1S"));
        await().atMost(PATIENCE).untilTrue(interrupted);
    }

    @Test
    void stopReturnsUnfinishedTasksToPendingWithoutCountingARetry() throws Exception {
        TaskInfo task = client.enqueue(Task.of("long"), TaskOptions.builder().maxRetry(3).build());
        CountDownLatch started = new CountDownLatch(1);
        Processor p = processor(ctx -> {
            started.countDown();
            new CountDownLatch(1).await();
        });
        p.dispatch(claim(task));
        started.await();

        p.stop(System.nanoTime() + Duration.ofMillis(100).toNanos(), Duration.ofMillis(100));

        TaskInfo back = inspector.task(task.id()).orElseThrow();
        assertThat(back.state()).isEqualTo(TaskState.PENDING);
        assertThat(back.retried()).isZero();
        assertThat(workers.count()).isZero();
    }

    @Test
    void decidesEveryKindOfFailure() {
        Processor p = processor(ctx -> { }, (retry, error, info) -> Duration.ofSeconds(retry),
                e -> !(e instanceof java.io.UncheckedIOException));
        Instant now = Instant.parse("2026-12-07T12:00:00Z");
        TaskInfo first = info(0, 2);
        TaskInfo last = info(2, 2);

        assertThat(p.decide(new IllegalStateException(), first, now))
                .isEqualTo(new Processor.Outcome.Retry(now.plusSeconds(1), true, true));
        assertThat(p.decide(new IllegalStateException(), last, now)).isEqualTo(new Processor.Outcome.Archive());
        assertThat(p.decide(new RetryLaterException(Duration.ofMinutes(1), "busy"), last, now))
                .isEqualTo(new Processor.Outcome.Retry(now.plusSeconds(60), false, false));
        assertThat(p.decide(new java.io.UncheckedIOException(new java.io.IOException()), last, now))
                .isEqualTo(new Processor.Outcome.Retry(now.plusSeconds(3), false, false));
        assertThat(p.decide(new SkipRetryException("no"), first, now)).isEqualTo(new Processor.Outcome.Archive());
        assertThat(p.decide(new TaskTimeoutException("deadline", true), first, now)).isEqualTo(new Processor.Outcome.Archive());
        assertThat(p.decide(new TaskTimeoutException("timeout", false), first, now))
                .isEqualTo(new Processor.Outcome.Retry(now.plusSeconds(1), true, true));
    }

    private static TaskInfo info(int retried, int maxRetry) {
        return TaskInfo.builder().id("t").queue("default").type("type").state(TaskState.ACTIVE).retried(retried)
                .maxRetry(maxRetry).enqueuedAt(Instant.EPOCH).build();
    }
}
