package io.courier.saga;

import java.time.Instant;
import java.util.Objects;

/**
 * One entry of a saga's timeline (its step log).
 *
 * @param at           when
 * @param step         the step's index (-1 for events of the saga as a whole before the first step)
 * @param stepName     the step's name, or empty
 * @param compensating whether it concerns the step's compensation
 * @param attempt      the attempt
 * @param kind         what happened
 * @param detail       more: a reply's reason, a failure, the command's topic
 */
public record SagaEvent(Instant at, int step, String stepName, boolean compensating, int attempt, Kind kind, String detail) {

    /** What happened. */
    public enum Kind {
        /** The saga started. */
        STARTED,
        /** A command (action or compensation) was written to the outbox. */
        COMMAND_SENT,
        /** A local step or compensation ran and committed. */
        LOCAL_DONE,
        /** A local step or compensation failed; detail says why. */
        LOCAL_FAILED,
        /** A reply arrived and was applied. */
        REPLY,
        /** A reply arrived for a step or attempt the saga is no longer waiting for: recorded, ignored. */
        REPLY_IGNORED,
        /** No reply within the step's timeout. */
        TIMEOUT,
        /** The step will be tried again at the time in detail. */
        RETRY_SCHEDULED,
        /** Compensation began; detail says why. */
        COMPENSATION_STARTED,
        /** Every step succeeded. */
        COMPLETED,
        /** Every completed step was compensated. */
        COMPENSATED,
        /** The saga waits for an operator; detail says why. */
        HELD,
        /** A compensation's attempts ran out; the saga waits for an operator. */
        COMPENSATION_STUCK,
        /** An operator retried the current step. */
        OPERATOR_RETRY,
        /** An operator aborted the saga. */
        OPERATOR_ABORT
    }

    /** Validates. */
    public SagaEvent {
        Objects.requireNonNull(at, "at");
        Objects.requireNonNull(stepName, "stepName");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(detail, "detail");
    }
}
