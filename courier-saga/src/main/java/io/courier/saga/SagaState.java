package io.courier.saga;

/** Where a saga is. The last four are final or wait for an operator. */
public enum SagaState {
    /** Going forward: a step's command is out, or a step waits to be tried again. */
    RUNNING,
    /** Undoing completed steps in reverse order. */
    COMPENSATING,
    /** Every step succeeded. Final. */
    COMPLETED,
    /** A step failed and every completed step was compensated. Final. */
    COMPENSATED,
    /**
     * Waiting for an operator: a step timed out with {@link TimeoutAction#HOLD}, or a step after the
     * pivot failed (after the pivot the saga cannot compensate). {@link SagaOperations#retry} or
     * {@link SagaOperations#abort} moves it on.
     */
    HELD,
    /**
     * A compensation kept failing and its attempts ran out: surfaced, not retried forever.
     * {@link SagaOperations#retry} tries it again once the cause is fixed.
     */
    COMPENSATION_STUCK;

    /** Whether nothing will happen to the saga without an operator. */
    public boolean isFinalOrHeld() {
        return this != RUNNING && this != COMPENSATING;
    }
}
