package io.courier.saga.internal;

import io.courier.Codec;
import io.courier.Message;
import io.courier.saga.LocalAction;
import io.courier.saga.SagaCommand;
import io.courier.saga.SagaDefinition;
import io.courier.saga.SagaEvent.Kind;
import io.courier.saga.SagaFailure;
import io.courier.saga.SagaReply;
import io.courier.saga.SagaState;
import io.courier.saga.SagaStep;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.List;

/**
 * The saga state machine. Every method runs inside one transaction on a locked saga row: it
 * changes the row in memory, writes the commands the change causes (through {@link Sender}, the
 * outbox) and the timeline entries; the caller then writes the row and commits, so a change and
 * its commands happen together or not at all.
 */
public final class Engine {

    /** Writes a command inside the transaction. */
    @FunctionalInterface
    public interface Sender {
        /** Writes {@code message} for {@code topic} of {@code destination} (null: the store's own transport). */
        void send(Connection tx, String destination, String topic, Message message) throws SQLException;
    }

    private final SagaStore store;
    private final Codec codec;
    private final Sender sender;

    /** An engine writing to {@code store}, sending with {@code sender}, (de)coding data with {@code codec}. */
    public Engine(SagaStore store, Codec codec, Sender sender) {
        this.store = store;
        this.codec = codec;
        this.sender = sender;
    }

    /** The topic replies of saga type {@code type} go to. */
    public static String replyTopic(String type) {
        return "courier.saga." + type + ".replies";
    }

    /** Starts a saga: inserts its row and takes its first steps. */
    public <D> SagaRow begin(Connection tx, SagaDefinition<D> def, String id, D data, long now) throws SQLException {
        SagaRow r = new SagaRow();
        r.id = id;
        r.type = def.name();
        r.state = SagaState.RUNNING;
        r.attempt = 1;
        r.data = codec.encode(data);
        r.createdAt = now;
        r.updatedAt = now;
        store.log(tx, id, now, 0, def.steps().get(0).name(), false, 1, Kind.STARTED, "");
        new Run<>(tx, def, r, now).enter();
        store.insert(tx, r);
        return r;
    }

    /** Applies a reply to a locked saga; returns whether it was applied (false: recorded and ignored). */
    public <D> boolean reply(Connection tx, SagaDefinition<D> def, SagaRow r, int stepIndex, boolean compensation, int attempt,
                             SagaReply reply, long now) throws SQLException {
        Run<D> run = new Run<>(tx, def, r, now);
        boolean active = r.state == SagaState.RUNNING || r.state == SagaState.COMPENSATING;
        boolean sameStep = active && r.step == stepIndex && r.compensating == compensation && attempt <= r.attempt;
        boolean applies = sameStep && (reply.outcome() == SagaReply.Outcome.SUCCESS || (r.awaiting && attempt == r.attempt));
        String name = stepIndex >= 0 && stepIndex < def.steps().size() ? def.steps().get(stepIndex).name() : "";
        if (!applies) {
            store.log(tx, r.id, now, stepIndex, name, compensation, attempt, Kind.REPLY_IGNORED,
                    reply.outcome() + (reply.reason().isEmpty() ? "" : ": " + reply.reason()) + " (saga is " + r.state
                            + " at step " + r.step + (r.compensating ? " compensating" : "") + ", attempt " + r.attempt + ")");
            return false;
        }
        store.log(tx, r.id, now, stepIndex, name, compensation, attempt, Kind.REPLY,
                reply.outcome() + (reply.reason().isEmpty() ? "" : ": " + reply.reason()));
        run.onReply(reply);
        run.enter();
        r.updatedAt = now;
        return true;
    }

    /** Handles a saga whose wake-up time has come: a missing reply, or a retry that is due. */
    public <D> void due(Connection tx, SagaDefinition<D> def, SagaRow r, long now) throws SQLException {
        if (r.wakeAt == null || r.wakeAt > now) {
            return;
        }
        Run<D> run = new Run<>(tx, def, r, now);
        if (r.awaiting) {
            run.onTimeout();
        }
        run.enter();
        r.updatedAt = now;
    }

    /** An operator's retry of the current step (held, stuck, or waiting for a reply). */
    public <D> void operatorRetry(Connection tx, SagaDefinition<D> def, SagaRow r, long now) throws SQLException {
        Run<D> run = new Run<>(tx, def, r, now);
        switch (r.state) {
            case HELD -> {
                r.state = SagaState.RUNNING;
                r.attempt = 1;
            }
            case COMPENSATION_STUCK -> {
                r.state = SagaState.COMPENSATING;
                r.attempt = 1;
            }
            case RUNNING, COMPENSATING -> r.attempt++;
            default -> throw new IllegalStateException("saga " + r.id + " is " + r.state + ": there is nothing to retry");
        }
        r.awaiting = false;
        r.wakeAt = null;
        run.log(Kind.OPERATOR_RETRY, "");
        run.enter();
        r.updatedAt = now;
    }

    /** An operator's abort: compensates from the current step. */
    public <D> void operatorAbort(Connection tx, SagaDefinition<D> def, SagaRow r, String reason, long now) throws SQLException {
        if (r.state != SagaState.RUNNING && r.state != SagaState.HELD) {
            throw new IllegalStateException("saga " + r.id + " is " + r.state + ": only a running or held saga can be aborted");
        }
        if (def.pivotIndex() >= 0 && r.step > def.pivotIndex()) {
            throw new IllegalStateException("saga " + r.id + " is past its pivot step '" + def.steps().get(def.pivotIndex()).name()
                    + "': it can only go forward; retry it instead");
        }
        Run<D> run = new Run<>(tx, def, r, now);
        run.log(Kind.OPERATOR_ABORT, reason);
        run.startCompensation(r.step, "aborted by an operator: " + reason);
        run.enter();
        r.updatedAt = now;
    }

    /** One transition of one saga. */
    private final class Run<D> {
        private final Connection tx;
        private final SagaDefinition<D> def;
        private final List<SagaStep<D>> steps;
        private final SagaRow r;
        private final long now;
        private D data;

        Run(Connection tx, SagaDefinition<D> def, SagaRow r, long now) {
            this.tx = tx;
            this.def = def;
            this.steps = def.steps();
            this.r = r;
            this.now = now;
            this.data = codec.decode(r.data, def.dataType());
        }

        /** Acts on the current state until the saga waits (for a reply, a retry time, an operator) or ends. */
        void enter() throws SQLException {
            while (true) {
                if (r.state.isFinalOrHeld() || r.awaiting || (r.wakeAt != null && r.wakeAt > now)) {
                    return;
                }
                r.wakeAt = null;
                if (!r.compensating && r.step >= steps.size()) {
                    r.state = SagaState.COMPLETED;
                    log(Kind.COMPLETED, "");
                    return;
                }
                if (r.compensating) {
                    while (r.step >= 0 && !steps.get(r.step).compensable()) {
                        r.step--;
                        r.attempt = 1;
                    }
                    if (r.step < 0) {
                        r.state = SagaState.COMPENSATED;
                        r.step = -1;
                        log(Kind.COMPENSATED, "");
                        return;
                    }
                }
                SagaStep<D> step = steps.get(r.step);
                SagaStep.Action<D> action = r.compensating ? step.compensation() : step.action();
                if (!action.isLocal()) {
                    send(step, action, r.compensating);
                    return;
                }
                // A local action's outcome moves the saga on exactly as a participant's reply would.
                SagaReply outcome = runLocal(action.local());
                log(outcome.outcome() == SagaReply.Outcome.SUCCESS ? Kind.LOCAL_DONE : Kind.LOCAL_FAILED, outcome.reason());
                onReply(outcome);
            }
        }

        void onReply(SagaReply reply) {
            SagaStep<D> step = steps.get(r.step);
            r.awaiting = false;
            r.wakeAt = null;
            if (r.compensating) {
                if (reply.outcome() == SagaReply.Outcome.SUCCESS) {
                    r.step--;
                    r.attempt = 1;
                } else {
                    compensationFailed(step, reply.reason());
                }
                return;
            }
            switch (reply.outcome()) {
                case SUCCESS -> {
                    data = step.afterSuccess(data, reply);
                    r.data = codec.encode(data);
                    advance();
                }
                case FAILURE -> failForward(step, reply.reason(), false);
                case ERROR -> retryOrFail(step, reply.reason());
            }
        }

        void onTimeout() throws SQLException {
            SagaStep<D> step = steps.get(r.step);
            r.awaiting = false;
            r.wakeAt = null;
            String why = "no reply within " + step.timeout().toMillis() + " ms";
            log(Kind.TIMEOUT, why);
            if (r.compensating) {
                if (r.attempt < step.compensationAttempts()) {
                    r.attempt++;            // send again now: the timeout was the wait
                } else {
                    stuck(why);
                }
                return;
            }
            switch (step.onTimeout()) {
                case RETRY -> {
                    if (r.attempt < step.maxAttempts()) {
                        r.attempt++;
                    } else {
                        failForward(step, why + " after " + r.attempt + " attempts", true);
                    }
                }
                case COMPENSATE -> failForward(step, why, true);
                case HOLD -> hold(why);
            }
        }

        private void advance() {
            r.step++;
            r.attempt = 1;
            r.awaiting = false;
            r.wakeAt = null;
        }

        /** The step failed for good (or its effect is unknown, when {@code uncertain}). */
        private void failForward(SagaStep<D> step, String reason, boolean uncertain) {
            r.reason = step.name() + ": " + reason;
            if (step.retriable()) {
                scheduleRetry(step, reason);
            } else if (def.pivotIndex() >= 0 && r.step > def.pivotIndex()) {
                hold("step '" + step.name() + "' failed after the pivot: " + reason);
            } else {
                startCompensation(uncertain ? r.step : r.step - 1, step.name() + ": " + reason);
            }
        }

        /** A technical error: try again after the backoff while attempts are left, else fail. */
        private void retryOrFail(SagaStep<D> step, String reason) {
            if (r.attempt < step.maxAttempts()) {
                scheduleRetry(step, reason);
            } else {
                failForward(step, "attempts exhausted (" + r.attempt + "), last error: " + reason, false);
            }
        }

        private void scheduleRetry(SagaStep<D> step, String reason) {
            long at = now + step.backoff(r.attempt).toMillis();
            r.attempt++;
            r.awaiting = false;
            r.wakeAt = at;
            r.reason = step.name() + ": " + reason;
            logQuietly(Kind.RETRY_SCHEDULED, "attempt " + r.attempt + " at " + java.time.Instant.ofEpochMilli(at) + ": " + reason);
        }

        private void compensationFailed(SagaStep<D> step, String reason) {
            if (r.attempt < step.compensationAttempts()) {
                scheduleRetry(step, reason);
            } else {
                stuck("compensation of '" + step.name() + "' failed " + r.attempt + " times, last: " + reason);
            }
        }

        void startCompensation(int from, String reason) {
            r.state = SagaState.COMPENSATING;
            r.compensating = true;
            r.step = from;
            r.attempt = 1;
            r.awaiting = false;
            r.wakeAt = null;
            r.reason = reason;
            logQuietly(Kind.COMPENSATION_STARTED, reason);
        }

        private void hold(String why) {
            r.state = SagaState.HELD;
            r.awaiting = false;
            r.wakeAt = null;
            r.reason = why;
            logQuietly(Kind.HELD, why);
        }

        private void stuck(String why) {
            r.state = SagaState.COMPENSATION_STUCK;
            r.awaiting = false;
            r.wakeAt = null;
            r.reason = why;
            logQuietly(Kind.COMPENSATION_STUCK, why);
        }

        private void send(SagaStep<D> step, SagaStep.Action<D> action, boolean compensation) throws SQLException {
            String phase = compensation ? "compensation" : "action";
            Message m = Message.builder().key(r.id)
                    .header(SagaCommand.SAGA_ID, r.id)
                    .header(SagaCommand.SAGA_TYPE, r.type)
                    .header(SagaCommand.STEP, step.name())
                    .header(SagaCommand.STEP_INDEX, Integer.toString(r.step))
                    .header(SagaCommand.PHASE, phase)
                    .header(SagaCommand.ATTEMPT, Integer.toString(r.attempt))
                    .header(SagaCommand.KEY, r.id + "/" + r.step + "/" + phase)
                    .header(SagaCommand.REPLY_TO, replyTopic(r.type))
                    .payload(payload(action.payload().apply(data)))
                    .build();
            sender.send(tx, action.destination(), action.topic(), m);
            r.awaiting = true;
            r.wakeAt = now + step.timeout().toMillis();
            log(Kind.COMMAND_SENT, action.topic());
        }

        private byte[] payload(Object value) {
            if (value instanceof byte[] b) {
                return b;
            }
            if (value instanceof String s) {
                return s.getBytes(StandardCharsets.UTF_8);
            }
            return codec.encode(value);
        }

        /** Runs a local action in a savepoint, rolled back unless it succeeds; its outcome as a reply. */
        private SagaReply runLocal(LocalAction<D> local) throws SQLException {
            Savepoint sp = tx.setSavepoint();
            try {
                D out = local.run(data, tx);
                data = out == null ? data : out;
                r.data = codec.encode(data);
                return SagaReply.success();
            } catch (SagaFailure f) {
                tx.rollback(sp);
                return SagaReply.failure(f.getMessage() == null ? f.toString() : f.getMessage());
            } catch (Exception e) {
                tx.rollback(sp);
                return SagaReply.error(e.toString());
            }
        }

        void log(Kind kind, String detail) throws SQLException {
            String name = r.step >= 0 && r.step < steps.size() ? steps.get(r.step).name() : "";
            store.log(tx, r.id, now, r.step, name, r.compensating, r.attempt, kind, detail);
        }

        private void logQuietly(Kind kind, String detail) {
            try {
                log(kind, detail);
            } catch (SQLException e) {
                throw new LogFailure(e);
            }
        }
    }

    /** A failed timeline write inside a transition; unwrapped by the orchestrator. */
    public static final class LogFailure extends RuntimeException {
        LogFailure(SQLException cause) {
            super(cause);
        }

        @Override
        public synchronized SQLException getCause() {
            return (SQLException) super.getCause();
        }
    }
}
