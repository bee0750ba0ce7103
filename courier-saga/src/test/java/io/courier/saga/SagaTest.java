package io.courier.saga;

import static io.courier.saga.OrderSaga.count;
import static io.courier.saga.SagaTestSupport.prefix;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.jdbc.JdbcTransport;
import io.courier.saga.OrderSaga.Order;
import io.courier.saga.SagaEvent.Kind;
import io.courier.saga.testing.ManualClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The order saga with participants on the SQL transport of the saga store, on SQLite and PostgreSQL. */
class SagaTest extends SagaTestBase {

    private JdbcTransport db(String kind) throws Exception {
        JdbcTransport db = database(kind);
        OrderSaga.createTables(db, prefix);
        return db;
    }

    private void participants(JdbcTransport db, boolean withCharge) {
        for (var s : OrderSaga.participants(db.subscriber(), db, db.publisher(), prefix, withCharge)) {
            later(s::close);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres"})
    void aSagaWhoseStepsSucceedCompletesWithEachEffectOnce(String kind) throws Exception {
        JdbcTransport db = db(kind);
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(30), TimeoutAction.RETRY);
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).saga(saga).start());
        participants(db, true);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ids.add(OrderSaga.place(sagas, saga, db, prefix, new Order("o-" + i, "sku-1", 2, 100 + i, null)));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> sagas.operations().count("order", SagaState.COMPLETED) == 10);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "orders WHERE status = 'APPROVED'")).isEqualTo(10);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "reservations")).isEqualTo(10);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "charges")).isEqualTo(10);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "notifications")).isEqualTo(10);
        assertThat(count(db, "SELECT qty FROM " + prefix + "stock")).isEqualTo(1_000_000 - 20);

        SagaInstance done = sagas.operations().find(ids.get(3)).orElseThrow();
        assertThat(done.state()).isEqualTo(SagaState.COMPLETED);
        assertThat(done.dataAsText()).contains("\"chargeId\":\"ch_o-3\"");
        assertThat(sagas.operations().timeline(ids.get(3))).extracting(SagaEvent::kind).containsExactly(
                Kind.STARTED, Kind.COMMAND_SENT, Kind.REPLY, Kind.COMMAND_SENT, Kind.REPLY, Kind.LOCAL_DONE,
                Kind.COMMAND_SENT, Kind.REPLY, Kind.COMPLETED);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgres"})
    void aRefusedStepCompensatesTheCompletedStepsInReverseOrder(String kind) throws Exception {
        JdbcTransport db = db(kind);
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(30), TimeoutAction.RETRY);
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).saga(saga).start());
        participants(db, true);
        String id = OrderSaga.place(sagas, saga, db, prefix, new Order("big", "sku-1", 5, 5_000, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> sagas.operations().find(id).orElseThrow().state() == SagaState.COMPENSATED);

        assertThat(count(db, "SELECT released FROM " + prefix + "reservations WHERE order_id = 'big'")).isEqualTo(1);
        assertThat(count(db, "SELECT qty FROM " + prefix + "stock")).isEqualTo(1_000_000);
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "charges")).isZero();
        assertThat(count(db, "SELECT COUNT(*) FROM " + prefix + "orders WHERE status = 'APPROVED'")).isZero();
        SagaInstance s = sagas.operations().find(id).orElseThrow();
        assertThat(s.reason()).hasValueSatisfying(r -> assertThat(r).contains("card declined"));
        List<SagaEvent> timeline = sagas.operations().timeline(id);
        assertThat(timeline).extracting(SagaEvent::kind).containsExactly(Kind.STARTED, Kind.COMMAND_SENT, Kind.REPLY,
                Kind.COMMAND_SENT, Kind.REPLY, Kind.COMPENSATION_STARTED, Kind.COMMAND_SENT, Kind.REPLY, Kind.COMPENSATED);
        SagaEvent release = timeline.get(6);
        assertThat(release.compensating()).isTrue();
        assertThat(release.stepName()).isEqualTo("reserve-stock");   // the refused charge itself is not compensated
    }

    @Test
    void aMissingReplyIsRetriedThenCompensatedAcrossAnOrchestratorRestartWithoutSleeping() throws Exception {
        JdbcTransport db = db("sqlite");
        ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(10), TimeoutAction.RETRY);
        participants(db, false);                        // nobody answers payment.charge
        SagaOrchestrator first = SagaOrchestrator.builder(db).saga(saga).clock(clock).manualTimers().start();
        String id = OrderSaga.place(first, saga, db, prefix, new Order("slow", "sku-1", 1, 10, null));
        await().atMost(Duration.ofSeconds(20)).until(() -> first.operations().find(id).orElseThrow().step() == 1);

        clock.advance(Duration.ofSeconds(9));
        assertThat(first.tick()).isZero();              // not due yet
        clock.advance(Duration.ofSeconds(2));
        assertThat(first.tick()).isEqualTo(1);          // attempt 2
        first.close();

        SagaOrchestrator second = later(SagaOrchestrator.builder(db).saga(saga).clock(clock).manualTimers().start());
        assertThat(second.operations().find(id).orElseThrow().attempt()).isEqualTo(2);
        clock.advance(Duration.ofSeconds(11));
        assertThat(second.tick()).isEqualTo(1);         // attempt 3, the last
        clock.advance(Duration.ofSeconds(11));
        assertThat(second.tick()).isEqualTo(1);         // gives up: compensates, the charge included (its effect is unknown)
        await().atMost(Duration.ofSeconds(30)).until(() -> second.operations().find(id).orElseThrow().state() == SagaState.COMPENSATED);

        List<SagaEvent> timeline = second.operations().timeline(id);
        assertThat(timeline).filteredOn(e -> e.kind() == Kind.TIMEOUT).hasSize(3);
        assertThat(timeline).filteredOn(e -> e.kind() == Kind.COMMAND_SENT && e.stepName().equals("charge-payment") && !e.compensating())
                .extracting(SagaEvent::attempt).containsExactly(1, 2, 3);
        assertThat(timeline).filteredOn(e -> e.kind() == Kind.COMMAND_SENT && e.compensating())
                .extracting(SagaEvent::stepName).containsExactly("charge-payment", "reserve-stock");
        assertThat(count(db, "SELECT released FROM " + prefix + "reservations WHERE order_id = 'slow'")).isEqualTo(1);
    }

    @Test
    void aHeldSagaWaitsForAnOperatorWhoCanRetryIt() throws Exception {
        JdbcTransport db = db("sqlite");
        ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(5), TimeoutAction.HOLD);
        participants(db, false);
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).saga(saga).clock(clock).manualTimers().start());
        String id = OrderSaga.place(sagas, saga, db, prefix, new Order("held", "sku-1", 1, 10, null));
        await().atMost(Duration.ofSeconds(20)).until(() -> sagas.operations().find(id).orElseThrow().step() == 1);
        clock.advance(Duration.ofSeconds(6));
        sagas.tick();
        SagaInstance held = sagas.operations().find(id).orElseThrow();
        assertThat(held.state()).isEqualTo(SagaState.HELD);
        assertThat(held.reason()).hasValueSatisfying(r -> assertThat(r).contains("no reply"));
        assertThat(sagas.operations().list("order", SagaState.HELD, 10)).extracting(SagaInstance::id).containsExactly(id);
        clock.advance(Duration.ofHours(1));
        assertThat(sagas.tick()).isZero();               // held: no timer runs

        // The payment service is back; the operator retries the step.
        for (var s : OrderSaga.participants(db.subscriber(), db, db.publisher(), prefix, true)) {
            later(s::close);
        }
        sagas.operations().retry(id);
        await().atMost(Duration.ofSeconds(30)).until(() -> sagas.operations().find(id).orElseThrow().state() == SagaState.COMPLETED);
        assertThat(sagas.operations().timeline(id)).extracting(SagaEvent::kind).contains(Kind.HELD, Kind.OPERATOR_RETRY, Kind.COMPLETED);
        assertThatThrownBy(() -> sagas.operations().retry(id)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void anOperatorAbortCompensatesAndARefusedAbortPastThePivotSaysWhy() throws Exception {
        JdbcTransport db = db("sqlite");
        ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(5), TimeoutAction.HOLD);
        participants(db, false);
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).saga(saga).clock(clock).manualTimers().start());
        String id = OrderSaga.place(sagas, saga, db, prefix, new Order("abort", "sku-1", 1, 10, null));
        await().atMost(Duration.ofSeconds(20)).until(() -> sagas.operations().find(id).orElseThrow().step() == 1);
        sagas.operations().abort(id, "customer cancelled");
        await().atMost(Duration.ofSeconds(30)).until(() -> sagas.operations().find(id).orElseThrow().state() == SagaState.COMPENSATED);
        assertThat(count(db, "SELECT released FROM " + prefix + "reservations WHERE order_id = 'abort'")).isEqualTo(1);
        assertThat(sagas.operations().timeline(id)).extracting(SagaEvent::kind).contains(Kind.OPERATOR_ABORT);
        assertThatThrownBy(() -> sagas.operations().abort(id, "again")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("COMPENSATED");
        assertThatThrownBy(() -> sagas.operations().retry("nope")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aFailingCompensationIsRetriedThenSurfacedAsStuckAndAnOperatorCanFinishIt() throws Exception {
        JdbcTransport db = db("sqlite");
        ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(5), TimeoutAction.RETRY);
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).saga(saga).clock(clock).manualTimers().start());
        // A release that fails until the test lets it through.
        java.util.concurrent.atomic.AtomicBoolean broken = new java.util.concurrent.atomic.AtomicBoolean(true);
        later(db.subscriber().subscribe("inventory.reserve", "p", SagaParticipant.of(db.publisher(), cmd -> SagaReply.success()))::close);
        later(db.subscriber().subscribe("payment.charge", "p", SagaParticipant.of(db.publisher(), cmd -> {
            throw new SagaFailure("declined");
        }))::close);
        later(db.subscriber().subscribe("inventory.release", "p", SagaParticipant.of(db.publisher(), cmd -> {
            if (broken.get()) {
                throw new IllegalStateException("inventory database is down");
            }
            return SagaReply.success();
        }))::close);
        String id = OrderSaga.place(sagas, saga, db, prefix, new Order("stuck", "sku-1", 1, 10, null));
        for (int round = 0; round < 10; round++) {
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                SagaInstance s = sagas.operations().find(id).orElseThrow();
                return s.state() == SagaState.COMPENSATION_STUCK || (s.compensating() && !s.awaitingReply() && s.wakeAt().isPresent());
            });
            if (sagas.operations().find(id).orElseThrow().state() == SagaState.COMPENSATION_STUCK) {
                break;
            }
            clock.advance(Duration.ofMinutes(2));      // past the backoff
            sagas.tick();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> sagas.operations().find(id).orElseThrow().state() == SagaState.COMPENSATION_STUCK);
        SagaInstance stuck = sagas.operations().find(id).orElseThrow();
        assertThat(stuck.reason()).hasValueSatisfying(r -> assertThat(r).contains("inventory database is down").contains("5 times"));
        assertThat(sagas.operations().timeline(id)).filteredOn(e -> e.kind() == Kind.COMMAND_SENT && e.compensating()).hasSize(5);
        clock.advance(Duration.ofHours(1));
        assertThat(sagas.tick()).isZero();               // surfaced, not retried forever

        broken.set(false);
        sagas.operations().retry(id);
        await().atMost(Duration.ofSeconds(20)).until(() -> sagas.operations().find(id).orElseThrow().state() == SagaState.COMPENSATED);
    }

    @Test
    void duplicateAndLateRepliesAreRecordedAndIgnored() throws Exception {
        JdbcTransport db = db("sqlite");
        SagaDefinition<Order> saga = OrderSaga.definition(null, prefix, Duration.ofSeconds(30), TimeoutAction.RETRY);
        SagaOrchestrator sagas = later(SagaOrchestrator.builder(db).saga(saga).start());
        participants(db, true);
        String id = OrderSaga.place(sagas, saga, db, prefix, new Order("dup", "sku-1", 1, 10, null));
        await().atMost(Duration.ofSeconds(30)).until(() -> sagas.operations().find(id).orElseThrow().state() == SagaState.COMPLETED);
        long version = sagas.operations().find(id).orElseThrow().version();
        // A late copy of the first step's reply, and a failure for it.
        for (String outcome : List.of("SUCCESS", "FAILURE")) {
            db.publisher().publish(SagaOrchestrator.replyTopic("order"), Message.builder()
                    .header(SagaCommand.SAGA_ID, id).header(SagaCommand.STEP_INDEX, "0").header(SagaCommand.PHASE, "action")
                    .header(SagaCommand.ATTEMPT, "1").header(SagaCommand.OUTCOME, outcome).payload(new byte[0]).build()).join();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> sagas.operations().timeline(id).stream()
                .filter(e -> e.kind() == Kind.REPLY_IGNORED).count() == 2);
        SagaInstance after = sagas.operations().find(id).orElseThrow();
        assertThat(after.state()).isEqualTo(SagaState.COMPLETED);
        assertThat(after.version()).isEqualTo(version);
    }

    @Test
    void definitionsAreCheckedWhenBuilt() {
        assertThatThrownBy(() -> SagaDefinition.builder("x", Order.class).build()).hasMessageContaining("no steps");
        assertThatThrownBy(() -> SagaDefinition.builder("x", Order.class)
                .step(SagaStep.<Order>named("a").local((o, tx) -> o).pivot())
                .step(SagaStep.<Order>named("b").local((o, tx) -> o).pivot()).build()).hasMessageContaining("two pivots");
        assertThatThrownBy(() -> SagaStep.<Order>named("c").command("t", o -> o).compensation("u", o -> o).retriable().build())
                .hasMessageContaining("never compensated");
        assertThatThrownBy(() -> SagaStep.<Order>named("d").build()).hasMessageContaining("no action");
        assertThatThrownBy(() -> SagaDefinition.builder("bad name", Order.class)).isInstanceOf(IllegalArgumentException.class);
    }
}
