package io.courier.tasks.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DueForwarderTest {

    private static final Duration LONG_POLL = Duration.ofSeconds(60);
    private final List<Instant> passes = new CopyOnWriteArrayList<>();
    private DueForwarder forwarder;

    @AfterEach
    void close() {
        if (forwarder != null) {
            forwarder.close();
        }
    }

    /** Starts a forwarder whose passes are recorded and answer with {@code next} (given the pass number, from 1). */
    private DueForwarder start(Duration pollInterval, Function<Integer, Optional<Instant>> next) {
        forwarder = new DueForwarder(now -> {
            passes.add(now);
            return next.apply(passes.size());
        }, pollInterval, Clock.systemUTC(), r -> new Thread(r, "forwarder-test"));
        forwarder.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() >= 1);
        return forwarder;
    }

    @Test
    void aKnownDueTimeBringsAPassLongBeforeThePollInterval() {
        start(LONG_POLL, n -> Optional.empty());
        Instant due = Instant.now().plusMillis(200);

        forwarder.dueAt(due);

        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() == 2);
        assertThat(passes.get(1)).isAfterOrEqualTo(due.truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
    }

    @Test
    void theNextDueTimeAPassReportsBringsTheNextPass() {
        Instant due = Instant.now().plusMillis(300);
        start(LONG_POLL, n -> n == 1 ? Optional.of(due) : Optional.empty());

        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() == 2);

        assertThat(passes.get(1)).isAfterOrEqualTo(due.truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(() -> passes.size() == 2);
    }

    @Test
    void aPassThatLeftDueTasksBehindIsFollowedByAnotherShortly() {
        start(LONG_POLL, n -> n <= 3 ? Optional.of(Instant.EPOCH) : Optional.empty());

        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() == 4);

        for (int i = 1; i < 4; i++) {
            assertThat(Duration.between(passes.get(i - 1), passes.get(i)))
                    .isGreaterThanOrEqualTo(DueForwarder.AGAIN_AFTER.minusMillis(1));
        }
    }

    @Test
    void withNothingKnownPassesComeEveryPollInterval() {
        start(Duration.ofMillis(100), n -> Optional.empty());

        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() >= 3);
    }

    @Test
    void aFailedPassIsTriedAgainAtTheNextPoll() {
        start(Duration.ofMillis(100), n -> {
            if (n == 1) {
                throw new IllegalStateException("store down");
            }
            return Optional.empty();
        });

        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() >= 2);
    }

    @Test
    void aLaterDueTimeDoesNotDelayAnEarlierOne() {
        start(LONG_POLL, n -> Optional.empty());
        Instant soon = Instant.now().plusMillis(200);

        forwarder.dueAt(soon);
        forwarder.dueAt(soon.plus(LONG_POLL));

        await().atMost(Duration.ofSeconds(5)).until(() -> passes.size() == 2);
    }

    @Test
    void closeStopsThePasses() {
        start(Duration.ofMillis(20), n -> Optional.empty());

        forwarder.close();
        int after = passes.size();

        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> passes.size() == after);
    }
}
