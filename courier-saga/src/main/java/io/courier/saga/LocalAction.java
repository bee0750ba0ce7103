package io.courier.saga;

import java.sql.Connection;

/**
 * A saga step (or compensation) that runs in the orchestrator's own database transaction, the one
 * that records the saga's progress: its writes and the step's completion commit together.
 *
 * @param <D> the saga's data type
 */
@FunctionalInterface
public interface LocalAction<D> {

    /**
     * Does the step's work in {@code transaction} (do not commit, roll back or close it) and returns
     * the saga's data afterwards ({@code data} itself when unchanged). Throw {@link SagaFailure} for a
     * business refusal (the saga compensates); any other exception is a technical error: the work is
     * rolled back to before the step and the step is tried again later.
     */
    D run(D data, Connection transaction) throws Exception;
}
