package io.courier.saga;

import static io.courier.saga.OrderSaga.count;
import static io.courier.saga.SagaTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.jdbc.JdbcTransport;
import io.courier.saga.OrderSaga.Order;
import io.courier.testkit.fault.ChildJvm;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The crash matrix: an orchestrator process halts (no shutdown hook, no cleanup, as after SIGKILL)
 * just before and just after each of its database commits in turn, during a four-step saga that
 * completes and during one that compensates. A fresh orchestrator then takes over. Every saga must
 * end COMPLETED or COMPENSATED (or never have started, when the halt came before its first
 * commit), with each effect applied once and no compensation missing.
 */
class SagaCrashTest extends SagaTestBase {

    @Test
    void anOrchestratorHaltedAtEveryCommitPointLeavesEverySagaFinishedWithEachEffectOnce() throws Exception {
        JdbcTransport db = database("postgres");
        OrderSaga.createTables(db, prefix);
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(5), TimeoutAction.RETRY);
        for (var s : OrderSaga.participants(db.subscriber(), db, db.publisher(), prefix, true)) {
            later(s::close);
        }
        // The schema first, so that the children's commits are the sagas' own.
        SagaOrchestrator.builder(db).saga(saga).manualTimers().start().close();

        int commits = commitsOfAWholeSaga("probe-ok", 10) + 2;
        int compensatingCommits = commitsOfAWholeSaga("probe-declined", 5_000) + 2;
        int crashes = 0;
        for (int n = 1; n <= commits; n++) {
            for (String mode : List.of("before", "after")) {
                crashes += runAndRecover(saga, db, "ok-" + n + "-" + mode, 10, n, mode) ? 1 : 0;
            }
        }
        for (int n = 1; n <= compensatingCommits; n++) {
            crashes += runAndRecover(saga, db, "declined-" + n, 5_000, n, "after") ? 1 : 0;
        }
        assertThat(crashes).as("children that halted").isGreaterThanOrEqualTo(commits + compensatingCommits / 2);
        System.out.printf("saga crash matrix: %d + %d commit points, %d halted children recovered%n", commits,
                compensatingCommits, crashes);
    }

    /** Runs a child that does not crash; returns how many commits a whole saga took. */
    private int commitsOfAWholeSaga(String id, long amount) throws Exception {
        try (ChildJvm child = ChildJvm.builder(CrashingOrchestratorMain.class).args(prefix, id, Long.toString(amount), "0", "after")
                .start()) {
            String line = child.awaitLine(l -> l.startsWith("FINAL "), Duration.ofSeconds(120));
            return Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
        }
    }

    /** One child halting at commit {@code n}, then recovery; returns whether the child halted. */
    private boolean runAndRecover(SagaDefinition<Order> saga, JdbcTransport db, String id, long amount, int n, String mode)
            throws Exception {
        boolean halted;
        try (ChildJvm child = ChildJvm.builder(CrashingOrchestratorMain.class)
                .args(prefix, id, Long.toString(amount), Integer.toString(n), mode).start()) {
            Optional<Integer> exit = child.awaitExit(Duration.ofSeconds(120));
            assertThat(exit).as("child %s exited", id).isPresent();
            halted = exit.get() == CrashingOrchestratorMain.HALTED;
            assertThat(exit.get()).as("exit code of %s: %s", id, child.stderrTail()).isIn(0, CrashingOrchestratorMain.HALTED);
        }
        try (SagaOrchestrator recovery = SagaOrchestrator.builder(db).saga(saga).replyLeaseTimeout(Duration.ofSeconds(1))
                .timerInterval(Duration.ofMillis(50)).start()) {
            Optional<SagaInstance> started = recovery.operations().find(id);
            if (started.isEmpty()) {
                // halted before the saga's first commit: it never existed, and neither did any of its effects
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "reservations WHERE order_id = '" + id + "'")).isZero();
                return halted;
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> recovery.operations().find(id).orElseThrow().state().isFinalOrHeld());
            SagaState end = recovery.operations().find(id).orElseThrow().state();
            String where = " WHERE order_id = '" + id + "'";
            if (amount <= OrderSaga.CARD_LIMIT) {
                assertThat(end).as("%s: %s", id, recovery.operations().timeline(id)).isEqualTo(SagaState.COMPLETED);
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "reservations" + where)).isEqualTo(1);
                assertThat(count(db, "SELECT SUM(released) FROM " + prefix + "reservations" + where)).isZero();
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "charges" + where)).isEqualTo(1);
                assertThat(count(db, "SELECT SUM(refunded) FROM " + prefix + "charges" + where)).isZero();
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "notifications" + where)).isEqualTo(1);
            } else {
                assertThat(end).as("%s: %s", id, recovery.operations().timeline(id)).isEqualTo(SagaState.COMPENSATED);
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "reservations" + where)).isEqualTo(1);
                assertThat(count(db, "SELECT SUM(released) FROM " + prefix + "reservations" + where)).isEqualTo(1);
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "charges" + where)).isZero();
                assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "notifications" + where)).isZero();
            }
        }
        return halted;
    }
}
