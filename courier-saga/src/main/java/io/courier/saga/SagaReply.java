package io.courier.saga;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * A participant's answer to a saga command.
 *
 * <ul>
 *   <li>{@link Outcome#SUCCESS}: done; the saga goes on (and may read {@link #payload()}).</li>
 *   <li>{@link Outcome#FAILURE}: refused for business reasons, nothing was done; the saga compensates.</li>
 *   <li>{@link Outcome#ERROR}: a technical error, nothing was done; the step is tried again while it
 *       has attempts left.</li>
 * </ul>
 */
public final class SagaReply {

    /** The kinds of reply. */
    public enum Outcome {
        /** Done. */
        SUCCESS,
        /** Refused for business reasons. */
        FAILURE,
        /** A technical error. */
        ERROR
    }

    private final Outcome outcome;
    private final String reason;
    private final byte[] payload;

    private SagaReply(Outcome outcome, String reason, byte[] payload) {
        this.outcome = Objects.requireNonNull(outcome, "outcome");
        this.reason = reason == null ? "" : reason;
        this.payload = payload == null ? new byte[0] : payload.clone();
    }

    /** Success without a payload. */
    public static SagaReply success() {
        return new SagaReply(Outcome.SUCCESS, "", null);
    }

    /** Success with a payload (JSON, for example {@code {"chargeId":"ch_1"}}). */
    public static SagaReply success(byte[] payload) {
        return new SagaReply(Outcome.SUCCESS, "", payload);
    }

    /** Success with a text payload. */
    public static SagaReply success(String payload) {
        return success(payload.getBytes(StandardCharsets.UTF_8));
    }

    /** A business refusal with its reason. */
    public static SagaReply failure(String reason) {
        return new SagaReply(Outcome.FAILURE, Objects.requireNonNull(reason, "reason"), null);
    }

    /** A technical error with its description. */
    public static SagaReply error(String reason) {
        return new SagaReply(Outcome.ERROR, Objects.requireNonNull(reason, "reason"), null);
    }

    /** A reply of any kind, as read back from a message or a table. */
    public static SagaReply of(Outcome outcome, String reason, byte[] payload) {
        return new SagaReply(outcome, reason, payload);
    }

    /** The outcome. */
    public Outcome outcome() {
        return outcome;
    }

    /** Why it failed; empty on success. */
    public String reason() {
        return reason;
    }

    /** The payload (a copy); empty when none. */
    public byte[] payload() {
        return payload.clone();
    }

    /** The payload as UTF-8 text. */
    public String payloadAsText() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SagaReply r && r.outcome == outcome && r.reason.equals(reason) && Arrays.equals(r.payload, payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(outcome, reason, Arrays.hashCode(payload));
    }

    @Override
    public String toString() {
        return "SagaReply[" + outcome + (reason.isEmpty() ? "" : ", " + reason) + ", " + payload.length + " bytes]";
    }
}
