package io.courier;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Some messages of a batch were not published. {@link #outcomes()} has one entry per message in the
 * order given, so the caller knows exactly which to send again.
 */
public class BatchPublishException extends PublishException {

    private final List<Outcome> outcomes;

    /** A partial failure of a batch to {@code topic}. */
    public BatchPublishException(String topic, List<Outcome> outcomes) {
        super(topic, describe(topic, outcomes), firstFailure(outcomes));
        this.outcomes = List.copyOf(outcomes);
    }

    private static String describe(String topic, List<Outcome> outcomes) {
        long failed = outcomes.stream().filter(o -> o.failure().isPresent()).count();
        return failed + " of " + outcomes.size() + " messages to topic '" + topic + "' were not published";
    }

    private static Throwable firstFailure(List<Outcome> outcomes) {
        return outcomes.stream().flatMap(o -> o.failure().stream()).findFirst().orElse(null);
    }

    /** One outcome per message, in the order the messages were given. */
    public List<Outcome> outcomes() {
        return outcomes;
    }

    /**
     * The outcome of one message of a batch: exactly one of {@code result} and {@code failure} is present.
     *
     * @param messageId the message's id
     * @param result    the publish result when it was published
     * @param failure   why it was not published
     */
    public record Outcome(String messageId, Optional<PublishResult> result, Optional<Throwable> failure) {
        /** Validates that exactly one of result and failure is present. */
        public Outcome {
            Objects.requireNonNull(messageId, "messageId");
            if (result.isPresent() == failure.isPresent()) {
                throw new IllegalArgumentException("exactly one of result and failure must be present");
            }
        }

        /** A published message. */
        public static Outcome published(PublishResult result) {
            return new Outcome(result.messageId(), Optional.of(result), Optional.empty());
        }

        /** A message that was not published. */
        public static Outcome failed(String messageId, Throwable failure) {
            return new Outcome(messageId, Optional.empty(), Optional.of(failure));
        }
    }
}
