package io.courier.testkit.idempotency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.courier.IdempotencyStore;
import io.courier.IdempotencyStore.Claim;
import io.courier.testkit.fault.ChildJvm;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The idempotency-store conformance suite: everything {@link IdempotencyStore} promises, run against a
 * real store. A store's test extends this class, says how to make a fresh, isolated store for one test
 * (a new file, table prefix or key prefix) and names the factory that opens it, and inherits every test:
 *
 * <pre>{@code
 * class RedisIdempotencyStoreTest extends IdempotencyStoreConformanceSuite {
 *     protected Map<String, String> newStoreConfig() {
 *         return Map.of("uri", "redis://127.0.0.1:6379", "prefix", "test-" + UUID.randomUUID() + ":");
 *     }
 *
 *     protected Class<? extends IdempotencyStoreFactory> storeFactory() {
 *         return RedisStores.class;   // public, no-arg constructor: the child JVMs load it
 *     }
 *
 *     protected boolean sharedAcrossProcesses() {
 *         return true;                // runs the multi-process and SIGKILL tests
 *     }
 * }
 * }</pre>
 *
 * <p><b>Lifecycle.</b> Before each test {@link #newStoreConfig()} describes a fresh store and the
 * factory opens it; after the test the store is closed (if it is {@link AutoCloseable}), then
 * {@link #dropStore(Map)} removes what {@code newStoreConfig()} created.
 *
 * <p><b>Processes.</b> A store that declares {@link #sharedAcrossProcesses()} also runs the tests with
 * child JVMs ({@link IdempotencyWorkerMain}): several processes claiming the same keys process each key
 * once, and a holder killed with SIGKILL keeps its key until its lease ran out, then another process
 * takes over. For any other store those tests are skipped with a message saying so.
 *
 * <p>Timing: no sleeps to wait for results (Awaitility polls); the only time assertions are
 * correctness bounds (a lease is never taken over before it ran out) and generous upper bounds.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
public abstract class IdempotencyStoreConformanceSuite {

    /** Upper bound for anything the suite waits for. */
    protected static final Duration PATIENCE = Duration.ofSeconds(30);
    /** Concurrent claimers of one key in the race test. */
    protected static final int CLAIMERS = 16;

    /** The store of the running test, opened before it and closed after it. */
    protected IdempotencyStore store;
    private Map<String, String> config;
    private final List<ChildJvm> children = new ArrayList<>();

    /**
     * The configuration of a fresh, empty store used by the running test only (a new file, table prefix
     * or key prefix), as {@link #storeFactory()} understands it.
     */
    protected abstract Map<String, String> newStoreConfig() throws Exception;

    /**
     * The factory that opens a store from {@link #newStoreConfig()}'s configuration: public, with a
     * public no-argument constructor, because the child JVMs load it by name.
     */
    protected abstract Class<? extends IdempotencyStoreFactory> storeFactory();

    /**
     * True when stores opened from one configuration in several processes share their keys (Redis, a
     * database), which runs the multi-process and SIGKILL tests. False by default (an in-memory store).
     */
    protected boolean sharedAcrossProcesses() {
        return false;
    }

    /** Removes what {@link #newStoreConfig()} created; the store is closed already. Does nothing by default. */
    protected void dropStore(Map<String, String> config) throws Exception {
    }

    @BeforeEach
    void openStore() throws Exception {
        config = newStoreConfig();
        store = storeFactory().getConstructor().newInstance().open(config);
    }

    @AfterEach
    void closeStore() throws Exception {
        children.forEach(ChildJvm::close);
        if (store instanceof AutoCloseable closeable) {
            closeable.close();
        }
        if (config != null) {
            dropStore(config);
        }
    }

    private static String newKey() {
        return "key-" + UUID.randomUUID();
    }

    private static String acquire(IdempotencyStore store, String key, Duration lease) {
        Claim claim = store.tryClaim(key, lease);
        assertThat(claim).as("claim of free key %s", key).isInstanceOf(Claim.Acquired.class);
        return ((Claim.Acquired) claim).token();
    }

    // ------------------------------------------------------------------ claims

    @Test
    void exactlyOneOfManyConcurrentClaimersAcquiresAKey() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(CLAIMERS);
        try {
            for (int round = 0; round < 10; round++) {
                String key = newKey();
                CyclicBarrier start = new CyclicBarrier(CLAIMERS);
                List<Future<Claim>> claims = new ArrayList<>();
                for (int i = 0; i < CLAIMERS; i++) {
                    claims.add(pool.submit(() -> {
                        start.await(10, TimeUnit.SECONDS);
                        return store.tryClaim(key, Duration.ofMinutes(1));
                    }));
                }
                List<Claim> results = new ArrayList<>();
                for (Future<Claim> f : claims) {
                    results.add(f.get(PATIENCE.toSeconds(), TimeUnit.SECONDS));
                }
                assertThat(results).as("round %d", round).filteredOn(Claim.Acquired.class::isInstance).hasSize(1);
                assertThat(results).as("round %d", round).filteredOn(Claim.InProgress.class::isInstance).hasSize(CLAIMERS - 1);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aHeldKeyIsInProgressWithTheHoldersRemainingLease() {
        String key = newKey();
        acquire(store, key, Duration.ofMinutes(1));

        Claim second = store.tryClaim(key, Duration.ofMinutes(5));

        assertThat(second).isInstanceOfSatisfying(Claim.InProgress.class, p -> assertThat(p.leaseRemaining())
                .isGreaterThan(Duration.ofSeconds(30))          // generous: the lease started just now
                .isLessThanOrEqualTo(Duration.ofMinutes(1)));   // the holder's lease, not the second caller's
        assertThat(store.tryClaim(newKey(), Duration.ofMinutes(1))).as("another key").isInstanceOf(Claim.Acquired.class);
    }

    @Test
    void aCompletedKeyIsAlreadyDone() {
        String key = newKey();
        String token = acquire(store, key, Duration.ofMinutes(1));

        assertThat(store.complete(key, token, Duration.ofHours(1))).isTrue();

        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);
        assertThat(store.release(key, token)).as("release after complete").isFalse();
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);
    }

    @Test
    void releaseLetsTheNextClaimInAndOnlyTheHoldersTokenReleases() {
        String key = newKey();
        String token = acquire(store, key, Duration.ofMinutes(1));

        assertThat(store.release(key, "not-the-token")).isFalse();
        assertThat(store.complete(key, "not-the-token", Duration.ofHours(1))).isFalse();
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).as("still held").isInstanceOf(Claim.InProgress.class);

        assertThat(store.release(key, token)).isTrue();

        String next = acquire(store, key, Duration.ofMinutes(1));
        assertThat(next).isNotEqualTo(token);
        assertThat(store.release(key, token)).as("old token after release").isFalse();
        assertThat(store.complete(key, token, Duration.ofHours(1))).as("old token after release").isFalse();
        assertThat(store.complete(key, next, Duration.ofHours(1))).isTrue();
    }

    @Test
    void afterTheLeaseExpiresAnotherClaimerTakesOverAndTheStaleTokenChangesNothing() {
        String key = newKey();
        String stale = acquire(store, key, Duration.ofMillis(300));

        String fresh = awaitTakeover(key);

        assertThat(fresh).isNotEqualTo(stale);
        assertThat(store.complete(key, stale, Duration.ofHours(1))).as("complete with the stale token").isFalse();
        assertThat(store.release(key, stale)).as("release with the stale token").isFalse();
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).as("the new holder still holds it").isInstanceOf(Claim.InProgress.class);
        assertThat(store.complete(key, fresh, Duration.ofHours(1))).isTrue();
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);
    }

    @Test
    void aDoneKeyIsForgottenAfterItsRetention() {
        String key = newKey();
        String token = acquire(store, key, Duration.ofMinutes(1));
        assertThat(store.complete(key, token, Duration.ofSeconds(2))).isTrue();
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);

        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(100))
                .until(() -> store.tryClaim(key, Duration.ofMinutes(1)) instanceof Claim.Acquired);
    }

    @Test
    void blankKeysAndNonPositiveDurationsAreRejected() {
        String key = newKey();
        assertThatThrownBy(() -> store.tryClaim("", Duration.ofMinutes(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.tryClaim("  ", Duration.ofMinutes(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.tryClaim(key, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.tryClaim(key, Duration.ofMillis(-1))).isInstanceOf(IllegalArgumentException.class);
        String token = acquire(store, key, Duration.ofMinutes(1));
        assertThatThrownBy(() -> store.complete(key, token, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.complete(" ", token, Duration.ofHours(1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.release("", token)).isInstanceOf(IllegalArgumentException.class);
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).as("nothing changed").isInstanceOf(Claim.InProgress.class);
    }

    // ------------------------------------------------------------------ several processes

    @Test
    void severalProcessesClaimingTheSameKeysProcessEachKeyOnce() throws Exception {
        assumeShared();
        int processes = 3;
        int keys = 60;
        String prefix = "shared-" + UUID.randomUUID() + "-";
        List<ChildJvm> workers = new ArrayList<>();
        for (int i = 0; i < processes; i++) {
            workers.add(child("process", prefix, Integer.toString(keys)));
        }
        for (ChildJvm w : workers) {
            w.awaitLine("READY", PATIENCE);
        }
        workers.forEach(ChildJvm::closeInput);   // go: all start claiming together

        Map<String, Integer> processed = new HashMap<>();
        for (ChildJvm w : workers) {
            w.awaitLine("FINISHED", PATIENCE);
            assertThat(w.lines()).as("%s", w).noneMatch(l -> l.startsWith("LOST "));
            assertThat(w.lines()).as("%s settled every key", w)
                    .filteredOn(l -> l.startsWith("PROCESSED ") || l.startsWith("SKIPPED ")).hasSize(keys);
            w.lines().stream().filter(l -> l.startsWith("PROCESSED "))
                    .forEach(l -> processed.merge(l.substring("PROCESSED ".length()), 1, Integer::sum));
        }
        assertThat(processed).as("keys processed, with the number of times").hasSize(keys)
                .allSatisfy((key, times) -> assertThat(times).as(key).isEqualTo(1));
        assertThat(store.tryClaim(prefix + 0, Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);
    }

    @Test
    void aHolderKilledWithSigkillKeepsItsKeyUntilItsLeaseRanOutThenAnotherProcessTakesOver() throws Exception {
        assumeShared();
        String key = newKey();
        Duration lease = Duration.ofSeconds(6);   // ample time to kill the holder and look before it runs out
        ChildJvm holder = child("hold", key, Long.toString(lease.toMillis()));
        String claimed = holder.awaitLine(l -> l.startsWith("CLAIMED ") || l.startsWith("NOT_ACQUIRED "), PATIENCE);
        assertThat(claimed).startsWith("CLAIMED ");
        String deadToken = claimed.substring("CLAIMED ".length());

        holder.kill();   // SIGKILL mid-processing: no release, no complete

        long firstLookStarted = System.nanoTime();
        Claim first = store.tryClaim(key, Duration.ofMinutes(1));
        assertThat(first).as("right after the kill").isInstanceOf(Claim.InProgress.class);
        Duration remaining = ((Claim.InProgress) first).leaseRemaining();
        String token = awaitTakeover(key);
        Duration waited = Duration.ofNanos(System.nanoTime() - firstLookStarted);

        // By the store's clock the takeover came after the lease ran out; the parent's clock measured
        // at least as long, give or take the stores' millisecond rounding.
        assertThat(waited).as("time from the first look to the takeover")
                .isGreaterThanOrEqualTo(remaining.minusMillis(5));
        assertThat(store.complete(key, deadToken, Duration.ofHours(1))).as("the dead holder's token").isFalse();
        assertThat(store.complete(key, token, Duration.ofHours(1))).isTrue();
        assertThat(store.tryClaim(key, Duration.ofMinutes(1))).isInstanceOf(Claim.AlreadyDone.class);
    }

    /** Claims {@code key} until the claim is acquired (never seeing it done) and returns the new token. */
    private String awaitTakeover(String key) {
        AtomicReference<Claim> takeover = new AtomicReference<>();
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(50)).until(() -> {
            Claim c = store.tryClaim(key, Duration.ofMinutes(1));
            assertThat(c).as("a claim of an unfinished key").isNotInstanceOf(Claim.AlreadyDone.class);
            takeover.set(c);
            return c instanceof Claim.Acquired;
        });
        return ((Claim.Acquired) takeover.get()).token();
    }

    private void assumeShared() {
        assumeTrue(sharedAcrossProcesses(), () -> getClass().getSimpleName()
                + " does not declare sharedAcrossProcesses(): the store is not shared between processes");
    }

    private ChildJvm child(String... args) throws Exception {
        List<String> all = new ArrayList<>();
        all.add(storeFactory().getName());
        all.addAll(List.of(args));
        ChildJvm child = ChildJvm.builder(IdempotencyWorkerMain.class)
                .args(all)
                .systemProperties(IdempotencyWorkerMain.systemProperties(config))
                .start();
        children.add(child);
        return child;
    }
}
