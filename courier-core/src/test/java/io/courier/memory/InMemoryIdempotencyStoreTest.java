package io.courier.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.IdempotencyStore.Claim;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class InMemoryIdempotencyStoreTest {

    private static final Duration LEASE = Duration.ofSeconds(30);
    private static final Duration RETENTION = Duration.ofHours(1);

    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    private final InMemoryIdempotencyStore store = new InMemoryIdempotencyStore(clock);

    @Test
    void firstClaimAcquiresAndOthersSeeItInProgressWithTheRemainingLease() {
        Claim first = store.tryClaim("billing:m1", LEASE);
        clock.advance(Duration.ofSeconds(10));
        Claim second = store.tryClaim("billing:m1", LEASE);

        assertThat(first).isInstanceOf(Claim.Acquired.class);
        assertThat(second).isEqualTo(new Claim.InProgress(Duration.ofSeconds(20)));
    }

    @Test
    void completedKeysAreAlreadyDoneUntilRetentionExpires() {
        String token = acquire("billing:m1");

        assertThat(store.complete("billing:m1", token, RETENTION)).isTrue();
        assertThat(store.tryClaim("billing:m1", LEASE)).isInstanceOf(Claim.AlreadyDone.class);

        clock.advance(RETENTION);
        assertThat(store.tryClaim("billing:m1", LEASE)).isInstanceOf(Claim.Acquired.class);
    }

    @Test
    void releasedKeysCanBeClaimedAgainAtOnce() {
        String token = acquire("billing:m1");

        assertThat(store.release("billing:m1", token)).isTrue();

        assertThat(store.tryClaim("billing:m1", LEASE)).isInstanceOf(Claim.Acquired.class);
    }

    @Test
    void anExpiredLeaseIsTakenOverAndTheStaleTokenNoLongerCounts() {
        String dead = acquire("billing:m1");
        clock.advance(LEASE);

        String takeover = acquire("billing:m1");

        assertThat(takeover).isNotEqualTo(dead);
        assertThat(store.complete("billing:m1", dead, RETENTION)).isFalse();
        assertThat(store.release("billing:m1", dead)).isFalse();
        assertThat(store.tryClaim("billing:m1", LEASE)).isInstanceOf(Claim.InProgress.class);
        assertThat(store.complete("billing:m1", takeover, RETENTION)).isTrue();
    }

    @Test
    void anExpiredLeaseNobodyTookOverCanStillBeCompleted() {
        String slow = acquire("billing:m1");
        clock.advance(LEASE.plusSeconds(5));

        assertThat(store.complete("billing:m1", slow, RETENTION)).isTrue();
        assertThat(store.tryClaim("billing:m1", LEASE)).isInstanceOf(Claim.AlreadyDone.class);
    }

    @Test
    void completingTwiceWithTheSameTokenIsIdempotent() {
        String token = acquire("billing:m1");

        assertThat(store.complete("billing:m1", token, RETENTION)).isTrue();
        assertThat(store.complete("billing:m1", token, RETENTION)).isTrue();
        assertThat(store.release("billing:m1", token)).isFalse();   // done stays done
        assertThat(store.tryClaim("billing:m1", LEASE)).isInstanceOf(Claim.AlreadyDone.class);
    }

    @Test
    void keysAreIndependent() {
        acquire("billing:m1");

        assertThat(store.tryClaim("shipping:m1", LEASE)).isInstanceOf(Claim.Acquired.class);
    }

    @Test
    void purgesExpiredEntries() {
        store.complete("a", acquire("a"), Duration.ofSeconds(1));
        acquire("b");
        acquire("c");
        clock.advance(Duration.ofSeconds(2));
        acquire("c-new");

        assertThat(store.purgeExpired()).isEqualTo(1);   // "a": retention over; "b", "c": leases still running
        clock.advance(LEASE);
        assertThat(store.purgeExpired()).isEqualTo(3);
        assertThat(store.size()).isZero();
    }

    @Test
    void concurrentClaimsOfOneKeyAcquireExactlyOnce() throws Exception {
        int threads = 16;
        CyclicBarrier start = new CyclicBarrier(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Claim>> claims = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                claims.add(pool.submit((Callable<Claim>) () -> {
                    start.await(10, TimeUnit.SECONDS);
                    return store.tryClaim("billing:m1", LEASE);
                }));
            }
            int acquired = 0;
            for (Future<Claim> f : claims) {
                if (f.get(10, TimeUnit.SECONDS) instanceof Claim.Acquired) {
                    acquired++;
                }
            }
            assertThat(acquired).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void rejectsInvalidArguments() {
        assertThatThrownBy(() -> store.tryClaim(" ", LEASE)).hasMessage("idempotency key must not be blank");
        assertThatThrownBy(() -> store.tryClaim("k", Duration.ZERO)).hasMessage("lease must be > 0, but was PT0S");
        assertThatThrownBy(() -> store.complete("k", "t", Duration.ofSeconds(-1))).hasMessage("retention must be > 0, but was PT-1S");
    }

    private String acquire(String key) {
        Claim claim = store.tryClaim(key, LEASE);
        assertThat(claim).isInstanceOf(Claim.Acquired.class);
        return ((Claim.Acquired) claim).token();
    }

    /** A clock tests move by hand. */
    static final class MutableClock extends Clock {
        private volatile Instant now;

        MutableClock(Instant start) {
            this.now = start;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
