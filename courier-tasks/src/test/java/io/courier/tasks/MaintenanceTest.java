package io.courier.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.JsonCodec;
import io.courier.tasks.memory.InMemoryTaskStore;
import io.courier.tasks.spi.ClaimedTask;
import io.courier.tasks.spi.Lease;
import io.courier.tasks.spi.TaskStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** The server's periodic parts, each alone over an in-memory store: heartbeat, recovery, cleanup, counters. */
class MaintenanceTest {

    private static final Instant T0 = Instant.parse("2026-12-07T12:00:00Z");

    private final InMemoryTaskStore store = InMemoryTaskStore.create();
    private final TaskClient client = TaskClient.create(store, Clock.fixed(T0, ZoneOffset.UTC), TaskOptions.defaults());
    private final TaskInspector inspector = TaskInspector.create(store, Clock.fixed(T0, ZoneOffset.UTC));
    private final Workers workers = new Workers(4);
    private final Counters counters = new Counters();

    private static Clock at(Instant t) {
        return Clock.fixed(t, ZoneOffset.UTC);
    }

    private ClaimedTask enqueueAndClaim(TaskOptions options, Duration lease) {
        client.enqueue(Task.of("t"), options);
        return store.claim(options.queue(), 1, "maintenance-test", T0, lease).get(0);
    }

    private Execution running(ClaimedTask c) {
        Execution e = new Execution(new Lease(c.info().id(), c.leaseToken()), T0,
                self -> new TaskContext(c.info(), T0.plusSeconds(60), JsonCodec.defaults()));
        workers.started(e);
        return e;
    }

    private ServerInfo report(Instant now, List<WorkerInfo> running) {
        return new ServerInfo("server-1", "host", 1, 4, Map.of("default", 1), false, "running", T0, now, running);
    }

    // ---------------------------------------------------------------- heartbeater

    @Test
    void heartbeatRenewsTheLeasesOfRunningTasksAndReportsThem() {
        ClaimedTask c = enqueueAndClaim(TaskOptions.defaults(), Duration.ofSeconds(30));
        running(c);
        Heartbeater h = new Heartbeater(store, workers, counters, at(T0.plusSeconds(10)), Duration.ofSeconds(30),
                Duration.ofSeconds(30), this::report);

        h.beat();

        assertThat(inspector.task(c.info().id()).orElseThrow().leaseExpiresAt()).contains(T0.plusSeconds(40));
        assertThat(store.servers(T0.plusSeconds(10))).singleElement().satisfies(s -> {
            assertThat(s.id()).isEqualTo("server-1");
            assertThat(s.heartbeatAt()).isEqualTo(T0.plusSeconds(10));
            assertThat(s.workers()).extracting(WorkerInfo::taskId).containsExactly(c.info().id());
        });
        assertThat(store.servers(T0.plusSeconds(41))).isEmpty();   // the report expires after its TTL
    }

    @Test
    void aLostLeaseInterruptsItsHandlerAndFreesItsSlot() throws Exception {
        ClaimedTask c = enqueueAndClaim(TaskOptions.defaults(), Duration.ofSeconds(30));
        assertThat(workers.take(1, Duration.ZERO)).isEqualTo(1);
        Execution e = running(c);
        AtomicBoolean interrupted = new AtomicBoolean();
        CountDownLatch inHandler = new CountDownLatch(1);
        Thread handler = new Thread(() -> {
            e.begin(Thread.currentThread());
            inHandler.countDown();
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException ie) {
                interrupted.set(true);
            }
        });
        handler.start();
        inHandler.await();
        store.requeue(new Lease(c.info().id(), c.leaseToken()));   // the task is no longer this attempt's

        new Heartbeater(store, workers, counters, at(T0.plusSeconds(10)), Duration.ofSeconds(30), Duration.ofSeconds(30),
                (now, w) -> null).beat();

        handler.join(10_000);
        assertThat(interrupted).isTrue();
        assertThat(e.isSettled()).isTrue();
        assertThat(workers.count()).isZero();
        assertThat(workers.take(4, Duration.ZERO)).isEqualTo(4);
        assertThat(store.servers(T0)).isEmpty();   // a null report is not written
    }

    @Test
    void heartbeatFlushesTheCounters() {
        counters.record("default", T0, 3, 1);
        new Heartbeater(store, workers, counters, at(T0), Duration.ofSeconds(30), Duration.ofSeconds(30),
                this::report).beat();

        assertThat(store.queueInfo("default", LocalDate.ofInstant(T0, ZoneOffset.UTC)))
                .satisfies(q -> assertThat(List.of(q.processed(), q.failed())).containsExactly(3L, 1L));
    }

    // ---------------------------------------------------------------- recoverer

    @Test
    void recovererCountsAnExpiredLeaseAsAFailedAttemptAndSaysTheTaskIsDue() {
        ClaimedTask retried = enqueueAndClaim(TaskOptions.builder().maxRetry(1).build(), Duration.ofSeconds(1));
        ClaimedTask archived = enqueueAndClaim(TaskOptions.builder().queue("other").maxRetry(0).build(), Duration.ofSeconds(1));
        ClaimedTask alive = enqueueAndClaim(TaskOptions.defaults(), Duration.ofMinutes(5));
        List<Instant> due = new CopyOnWriteArrayList<>();
        Instant now = T0.plusSeconds(2);

        int recovered = new Recoverer(store, List.of("default", "other"), counters, at(now), due::add, "server-1").recover();

        assertThat(recovered).isEqualTo(2);
        assertThat(inspector.task(retried.info().id()).orElseThrow()).satisfies(t -> {
            assertThat(t.state()).isEqualTo(TaskState.RETRY);
            assertThat(t.retried()).isEqualTo(1);
            assertThat(t.nextProcessAt()).contains(now);
            assertThat(t.lastError()).contains(TaskServer.LEASE_EXPIRED_ERROR);
        });
        assertThat(inspector.task(archived.info().id()).orElseThrow().state()).isEqualTo(TaskState.ARCHIVED);
        assertThat(inspector.task(alive.info().id()).orElseThrow().state()).isEqualTo(TaskState.ACTIVE);
        assertThat(due).isNotEmpty().allSatisfy(d -> assertThat(d).isEqualTo(now));
        counters.flushTo(store);
        assertThat(store.queueInfo("other", LocalDate.ofInstant(now, ZoneOffset.UTC)).failed()).isEqualTo(1);
    }

    @Test
    void recovererLeavesQueuesItDoesNotServeAlone() {
        ClaimedTask c = enqueueAndClaim(TaskOptions.builder().queue("elsewhere").build(), Duration.ofSeconds(1));

        assertThat(new Recoverer(store, List.of("default"), counters, at(T0.plusSeconds(5)), t -> { }, "s").recover()).isZero();
        assertThat(inspector.task(c.info().id()).orElseThrow().state()).isEqualTo(TaskState.ACTIVE);
    }

    // ---------------------------------------------------------------- janitor

    @Test
    void janitorDeletesCompletedTasksOnceTheirRetentionEnded() {
        ClaimedTask c = enqueueAndClaim(TaskOptions.builder().retention(Duration.ofMinutes(1)).build(), Duration.ofMinutes(1));
        store.complete(new Lease(c.info().id(), c.leaseToken()), T0);

        assertThat(new Janitor(store, at(T0.plusSeconds(59))).clean()).isZero();
        assertThat(inspector.task(c.info().id())).isPresent();
        assertThat(new Janitor(store, at(T0.plusSeconds(61))).clean()).isEqualTo(1);
        assertThat(inspector.task(c.info().id())).isEmpty();
    }

    // ---------------------------------------------------------------- counters

    @Test
    void countersThatCouldNotBeWrittenAreKeptForTheNextFlush() {
        AtomicBoolean fail = new AtomicBoolean(true);
        TaskStore flaky = TaskStores.intercept(store, method -> {
            if (method.equals("recordStats") && fail.getAndSet(false)) {
                throw new TaskStoreException("database down");
            }
        });
        counters.record("default", T0, 2, 1);

        assertThatThrownBy(() -> counters.flushTo(flaky)).isInstanceOf(TaskStoreException.class);
        counters.record("default", T0, 1, 0);
        counters.flushTo(flaky);
        counters.flushTo(flaky);   // nothing left: adds nothing

        QueueInfo q = store.queueInfo("default", LocalDate.ofInstant(T0, ZoneOffset.UTC));
        assertThat(List.of(q.processed(), q.failed())).containsExactly(3L, 1L);
    }
}
