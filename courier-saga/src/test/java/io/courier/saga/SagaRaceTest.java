package io.courier.saga;

import static io.courier.saga.SagaTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Handler;
import io.courier.jdbc.JdbcTransport;
import io.courier.saga.OrderSaga.Order;
import io.courier.saga.SagaEvent.Kind;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Two orchestrators on one PostgreSQL store, with timers every 10 ms, racing on the same sagas: the
 * payment participant ignores every first attempt, so each saga's charge times out while both
 * orchestrators look for due timers. Each transition must happen once.
 */
class SagaRaceTest extends SagaTestBase {

    @Test
    void twoOrchestratorsRacingOnTheSameSagasMakeEachTransitionOnce() throws Exception {
        JdbcTransport db = database("postgres");
        OrderSaga.createTables(db, prefix);
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofMillis(400), TimeoutAction.RETRY);
        for (var s : OrderSaga.participants(db.subscriber(), db, db.publisher(), prefix, false)) {
            later(s::close);
        }
        Handler charge = SagaParticipant.transactional(db, db.publisher(), (cmd, tx) -> {
            OrderSaga.update(tx, "INSERT INTO " + prefix + "charges VALUES (?, ?, 0)", cmd.payloadAs(Order.class).id(), 1L);
            return SagaReply.success("ch");
        });
        later(db.subscriber().subscribe("payment.charge", "participants", d -> {
            if (SagaParticipant.command(d).attempt() > 1) {   // the first attempt gets no answer
                charge.handle(d);
            }
        })::close);
        SagaOrchestrator a = later(SagaOrchestrator.builder(db).saga(saga).timerInterval(Duration.ofMillis(10)).start());
        SagaOrchestrator b = later(SagaOrchestrator.builder(db).saga(saga).timerInterval(Duration.ofMillis(10)).start());

        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            ids.add(OrderSaga.place(i % 2 == 0 ? a : b, saga, db, prefix, new Order("race-" + i, "sku-1", 1, 10, null)));
        }
        await().atMost(Duration.ofSeconds(90)).until(() -> a.operations().count("order", SagaState.COMPLETED) == ids.size());

        for (String id : ids) {
            List<SagaEvent> timeline = a.operations().timeline(id);
            assertThat(timeline).filteredOn(e -> e.kind() == Kind.COMPLETED).hasSize(1);
            // Under load other steps may time out too (their late replies are then applied or ignored);
            // what must never happen is one transition twice: a timeout or a send per step and attempt.
            java.util.Map<String, java.time.Instant> sentAt = new java.util.HashMap<>();
            Set<String> sent = new HashSet<>();
            Set<String> timedOut = new HashSet<>();
            for (SagaEvent e : timeline) {
                String at = e.step() + "/" + e.compensating() + "/" + e.attempt();
                if (e.kind() == Kind.TIMEOUT) {
                    // fired by one orchestrator, and not before the attempt's deadline (a second firing would be early)
                    assertThat(Duration.between(sentAt.get(at), e.at())).as("%s: %s", id, timeline)
                            .isGreaterThanOrEqualTo(Duration.ofMillis(400));
                }
                if (e.kind() == Kind.COMMAND_SENT) {
                    sentAt.put(at, e.at());
                    assertThat(sent.add(at)).as("%s sent step %s attempt %s twice: %s", id, e.stepName(), e.attempt(), timeline)
                            .isTrue();
                } else if (e.kind() == Kind.TIMEOUT) {
                    assertThat(timedOut.add(at)).as("%s timed out step %s attempt %s twice: %s", id, e.stepName(), e.attempt(),
                            timeline).isTrue();
                }
            }
            assertThat(timedOut).contains("1/false/1");
            assertThat(sent).contains("1/false/1", "1/false/2");
        }
        assertThat(OrderSaga.count(db, "SELECT COUNT(*) FROM " + prefix + "charges")).isEqualTo(ids.size());
        assertThat(OrderSaga.count(db, "SELECT COUNT(*) FROM " + prefix + "notifications")).isEqualTo(ids.size());
    }
}
