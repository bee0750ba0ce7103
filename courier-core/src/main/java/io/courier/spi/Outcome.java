package io.courier.spi;

import io.courier.Message;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How a transport must settle a delivery once the handler is done. Produced by
 * {@link HandlerInvoker#invoke}; a transport maps each case onto its own operations.
 */
public sealed interface Outcome {

    /** Acknowledge: the message is done for this group. */
    record Ack() implements Outcome {
    }

    /**
     * Deliver again after {@code delay} with {@code headers} merged into the message, counting one more
     * attempt; durable, and without blocking other messages.
     */
    record Retry(Duration delay, Map<String, String> headers) implements Outcome {
        /** Validates and copies. */
        public Retry {
            Objects.requireNonNull(delay, "delay");
            headers = Map.copyOf(headers);
        }

        /** The message as it must be redelivered: the original with the retry headers merged in. */
        public Message apply(Message original) {
            return headers.isEmpty() ? original : original.withHeaders(headers);
        }
    }

    /**
     * The handler threw and nothing settled the message: deliver it again after
     * {@code redeliveryDelay} (the subscription's failure redelivery delay).
     */
    record Failed(Throwable error, Duration redeliveryDelay) implements Outcome {
        /** Validates. */
        public Failed {
            Objects.requireNonNull(error, "error");
            Objects.requireNonNull(redeliveryDelay, "redeliveryDelay");
        }
    }
}
