package io.courier.rabbitmq;

import io.courier.CourierException;

/**
 * A queue or exchange already exists on the broker with settings that differ from the ones Courier
 * declares (RabbitMQ's {@code PRECONDITION_FAILED - inequivalent arg ...}). Nothing was changed on the
 * broker. Either delete the existing entity (its messages are lost) or change the configuration to
 * match it; the message names the entity and the argument that differ.
 */
public class TopologyMismatchException extends CourierException {

    private final String entityKind;
    private final String entityName;
    private final String argument;

    /**
     * A mismatch on {@code argument} of the {@code entityKind} ({@code queue} or {@code exchange})
     * named {@code entityName}.
     */
    public TopologyMismatchException(String entityKind, String entityName, String argument, String brokerReply) {
        super(entityKind + " '" + entityName + "' already exists on the broker with a different '" + argument
                + "' than this configuration declares; delete the " + entityKind
                + " (its messages are lost) or change the configuration to match it. Broker reply: " + brokerReply);
        this.entityKind = entityKind;
        this.entityName = entityName;
        this.argument = argument;
    }

    /** {@code queue} or {@code exchange}. */
    public String entityKind() {
        return entityKind;
    }

    /** The name of the queue or exchange. */
    public String entityName() {
        return entityName;
    }

    /** The argument that differs, e.g. {@code x-queue-type} or {@code durable}. */
    public String argument() {
        return argument;
    }
}
