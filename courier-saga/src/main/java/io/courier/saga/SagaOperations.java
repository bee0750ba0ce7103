package io.courier.saga;

import io.courier.saga.internal.SagaRow;
import io.courier.saga.internal.SagaStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What an operator does with sagas: list them by type and state, read one saga's timeline, retry a
 * stuck step, abort with compensation. Every change is one transaction on the locked saga row, like
 * the orchestrator's own transitions, and is written to the timeline. Thread-safe.
 */
public final class SagaOperations {

    /** The most rows one list returns. */
    public static final int MAX_PAGE = 10_000;

    private final SagaOrchestrator orchestrator;

    SagaOperations(SagaOrchestrator orchestrator) {
        this.orchestrator = orchestrator;
    }

    /** Up to {@code limit} sagas of {@code type} (any when null) in {@code state} (any when null), newest first. */
    public List<SagaInstance> list(String type, SagaState state, int limit) {
        if (limit < 1 || limit > MAX_PAGE) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_PAGE + ", but was " + limit);
        }
        List<SagaRow> rows = orchestrator.read("listing sagas", c -> orchestrator.store().list(c, type, state, limit));
        List<SagaInstance> out = new ArrayList<>(rows.size());
        for (SagaRow r : rows) {
            out.add(instance(r));
        }
        return out;
    }

    /** How many sagas of {@code type} (any when null) are in {@code state}. */
    public long count(String type, SagaState state) {
        Objects.requireNonNull(state, "state");
        return orchestrator.read("counting sagas", c -> orchestrator.store().count(c, type, state));
    }

    /** Saga {@code id}, if it exists. */
    public Optional<SagaInstance> find(String id) {
        Objects.requireNonNull(id, "id");
        return orchestrator.read("reading saga " + id, c -> orchestrator.store().find(c, id)).map(this::instance);
    }

    /** Saga {@code id}'s timeline: every command, reply, timeout, retry and compensation, oldest first. */
    public List<SagaEvent> timeline(String id) {
        Objects.requireNonNull(id, "id");
        return orchestrator.read("reading the timeline of saga " + id, c -> orchestrator.store().timeline(c, id));
    }

    /**
     * Tries the current step again now, with a fresh series of attempts: a {@link SagaState#HELD}
     * saga goes forward, a {@link SagaState#COMPENSATION_STUCK} one compensates, and a saga waiting
     * for a reply sends its command again.
     *
     * @throws IllegalStateException when the saga has ended
     * @throws IllegalArgumentException when no such saga exists
     */
    public void retry(String id) {
        change(id, "retrying saga " + id, (c, r) -> orchestrator.engine().operatorRetry(c, orchestrator.definition(r.type), r,
                orchestrator.clock().millis()));
    }

    /**
     * Gives up on a running or held saga: compensates its steps from the current one backwards (the
     * current step's compensation runs too, since its effect is unknown; compensations must tolerate
     * "nothing to undo").
     *
     * @throws IllegalStateException when the saga has ended, is compensating, or is past its pivot
     * @throws IllegalArgumentException when no such saga exists
     */
    public void abort(String id, String reason) {
        Objects.requireNonNull(reason, "reason");
        change(id, "aborting saga " + id, (c, r) -> orchestrator.engine().operatorAbort(c, orchestrator.definition(r.type), r,
                reason, orchestrator.clock().millis()));
    }

    @FunctionalInterface
    private interface Change {
        void apply(java.sql.Connection c, SagaRow r) throws java.sql.SQLException;
    }

    private void change(String id, String what, Change change) {
        Objects.requireNonNull(id, "id");
        orchestrator.inTransaction(what, c -> {
            SagaRow r = orchestrator.store().lock(c, id)
                    .orElseThrow(() -> new IllegalArgumentException("no saga with id '" + id + "'"));
            change.apply(c, r);
            orchestrator.store().update(c, r);
            return null;
        });
    }

    private SagaInstance instance(SagaRow r) {
        String name = null;
        try {
            List<? extends SagaStep<?>> steps = orchestrator.definition(r.type).steps();
            name = r.step >= 0 && r.step < steps.size() ? steps.get(r.step).name() : null;
        } catch (IllegalStateException unknownType) {
            // a saga of a type this orchestrator does not run: shown without step names
        }
        return SagaStore.toInstance(r, name);
    }
}
