package io.courier.saga;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One saga as stored, for operators.
 *
 * @param id           the saga's id
 * @param type         its type
 * @param state        where it is
 * @param step         the index of the current step (the one running, or being compensated); equal to the
 *                     number of steps once completed, -1 once compensated
 * @param stepName     the current step's name, or empty at the ends
 * @param compensating whether the current step is being compensated
 * @param attempt      the current step's attempt, from 1
 * @param awaitingReply whether a command is out and its reply awaited
 * @param wakeAt       when the orchestrator looks at the saga next without a reply (a timeout or a
 *                     retry), if it will
 * @param data         the data as stored (JSON with the default codec)
 * @param version      incremented by every change
 * @param reason       the last failure's reason, if any
 * @param createdAt    when the saga started
 * @param updatedAt    its last change
 */
public record SagaInstance(String id, String type, SagaState state, int step, Optional<String> stepName, boolean compensating,
                           int attempt, boolean awaitingReply, Optional<Instant> wakeAt, byte[] data, long version,
                           Optional<String> reason, Instant createdAt, Instant updatedAt) {

    /** Validates. */
    public SagaInstance {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(stepName, "stepName");
        Objects.requireNonNull(wakeAt, "wakeAt");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(updatedAt, "updatedAt");
    }

    /** The data as text. */
    public String dataAsText() {
        return new String(data, StandardCharsets.UTF_8);
    }
}
