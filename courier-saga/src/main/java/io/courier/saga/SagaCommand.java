package io.courier.saga;

import io.courier.Codec;
import io.courier.DecodingException;
import io.courier.JsonCodec;
import io.courier.Message;
import java.util.Objects;

/**
 * A saga's command as a participant receives it: which saga, which step, which attempt, and the
 * payload.
 *
 * @param sagaId       the saga's id
 * @param sagaType     the saga's type ({@link SagaDefinition#name()})
 * @param step         the step's name
 * @param stepIndex    the step's position, from 0
 * @param compensation whether this is the step's compensation rather than its action
 * @param attempt      the attempt, from 1; a command sent again after a timeout or error has a higher one
 * @param key          the idempotency key {@code <sagaId>/<stepIndex>/<action|compensation>}: the same for
 *                     every attempt and every duplicate of this step's command, so a participant that
 *                     deduplicates on it applies the step once; the attempt is {@link #attempt()}
 * @param replyTo      the topic the reply goes to
 * @param message      the message that carried the command
 */
public record SagaCommand(String sagaId, String sagaType, String step, int stepIndex, boolean compensation, int attempt,
                          String key, String replyTo, Message message) {

    /** Header: saga id. */
    public static final String SAGA_ID = "courier-saga-id";
    /** Header: saga type. */
    public static final String SAGA_TYPE = "courier-saga-type";
    /** Header: step name. */
    public static final String STEP = "courier-saga-step";
    /** Header: step index. */
    public static final String STEP_INDEX = "courier-saga-step-index";
    /** Header: {@code action} or {@code compensation}. */
    public static final String PHASE = "courier-saga-phase";
    /** Header: attempt. */
    public static final String ATTEMPT = "courier-saga-attempt";
    /** Header: idempotency key. */
    public static final String KEY = "courier-saga-key";
    /** Header: reply topic. */
    public static final String REPLY_TO = "courier-saga-reply-to";
    /** Header of replies: {@link SagaReply.Outcome}. */
    public static final String OUTCOME = "courier-saga-outcome";
    /** Header of replies: the failure's reason. */
    public static final String REASON = "courier-saga-reason";

    private static final Codec JSON = JsonCodec.defaults();

    /** Validates. */
    public SagaCommand {
        Objects.requireNonNull(sagaId, "sagaId");
        Objects.requireNonNull(sagaType, "sagaType");
        Objects.requireNonNull(step, "step");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(replyTo, "replyTo");
        Objects.requireNonNull(message, "message");
    }

    /**
     * Reads a command from {@code message}.
     *
     * @throws DecodingException when a saga header is missing or malformed: the message is not a saga command
     */
    public static SagaCommand from(Message message) {
        try {
            return new SagaCommand(require(message, SAGA_ID), require(message, SAGA_TYPE), require(message, STEP),
                    Integer.parseInt(require(message, STEP_INDEX)), "compensation".equals(require(message, PHASE)),
                    Integer.parseInt(require(message, ATTEMPT)), require(message, KEY), require(message, REPLY_TO), message);
        } catch (NumberFormatException e) {
            throw new DecodingException("message " + message.id() + " is not a saga command: " + e.getMessage(), e);
        }
    }

    private static String require(Message m, String header) {
        return m.header(header).orElseThrow(() -> new DecodingException("message " + m.id()
                + " is not a saga command: header " + header + " is missing", null));
    }

    /** The payload as UTF-8 text (JSON unless the step sent bytes or a string). */
    public String payloadAsText() {
        return message.payloadAsText();
    }

    /**
     * The payload read as JSON into {@code type} (or with {@code codec}, when the orchestrator uses another).
     *
     * @throws DecodingException when it does not fit
     */
    public <T> T payloadAs(Class<T> type) {
        return JSON.decode(message.payload(), type);
    }

    /** The payload read into {@code type} with {@code codec}. */
    public <T> T payloadAs(Class<T> type, Codec codec) {
        return codec.decode(message.payload(), type);
    }
}
