package io.courier.saga;

/**
 * Thrown by a local step or a participant to say "no, for business reasons" (out of stock, card
 * declined): the step did not take effect and trying again will not help, so the saga compensates.
 * Any other exception is a technical error, which the step retries.
 */
public class SagaFailure extends Exception {

    /** A business failure with its reason. */
    public SagaFailure(String reason) {
        super(reason);
    }
}
