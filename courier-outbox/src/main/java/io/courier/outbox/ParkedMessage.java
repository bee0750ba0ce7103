package io.courier.outbox;

import io.courier.Message;
import java.time.Instant;
import java.util.Objects;

/**
 * A message that its destination refused for good (see {@link io.courier.PublishRefusedException}),
 * parked by the relay until an operator retries or discards it.
 *
 * @param id          the parked row's id, for {@link ParkedMessages#retry} and {@link ParkedMessages#discard}
 * @param destination the destination's name
 * @param topic       the destination topic
 * @param message     the message as it was written (id, key, headers, payload, timestamp)
 * @param reason      why the destination refused it, e.g. the broker's error message
 * @param errorClass  the class name of the exception the relay got
 * @param attempts    how many times the relay had tried to send it
 * @param parkedAt    when it was parked
 */
public record ParkedMessage(long id, String destination, String topic, Message message, String reason,
                            String errorClass, int attempts, Instant parkedAt) {

    /** Checks that nothing is missing. */
    public ParkedMessage {
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(errorClass, "errorClass");
        Objects.requireNonNull(parkedAt, "parkedAt");
    }
}
