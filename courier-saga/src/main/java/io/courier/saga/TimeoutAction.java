package io.courier.saga;

/** What a step does when its reply does not come within the step's timeout. */
public enum TimeoutAction {
    /** Send the command again (a new attempt) until the step's attempts run out, then compensate. */
    RETRY,
    /** Compensate at once, including this step, whose effect is unknown. */
    COMPENSATE,
    /** Stop and wait for an operator ({@link SagaState#HELD}). */
    HOLD
}
