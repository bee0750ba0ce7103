package io.courier.tasks.conformance;

import io.courier.tasks.TaskServer;
import io.courier.tasks.spi.TaskStore;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * A worker process for the crash test: serves the default queue of the store given by its
 * arguments (see {@link TestStores}), prints {@code STARTED <task id>} when a handler starts and
 * then blocks forever, waiting to be killed with SIGKILL.
 */
public final class KillableWorker {

    /** Lease of the child's server: short, so the parent recovers the task quickly. */
    public static final Duration LEASE = Duration.ofSeconds(1);

    private KillableWorker() {
    }

    /** Runs until killed. */
    public static void main(String[] args) throws Exception {
        TaskStore store = TestStores.open(List.of(args));
        TaskServer.builder(store)
                .concurrency(1)
                .leaseDuration(LEASE)
                .heartbeatInterval(Duration.ofMillis(200))
                .pollInterval(Duration.ofMillis(50))
                .handler(ctx -> {
                    System.out.println("STARTED " + ctx.id());
                    System.out.flush();
                    new CountDownLatch(1).await();
                })
                .build()
                .start();
        System.out.println("READY");
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
