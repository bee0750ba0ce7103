package io.courier.rabbitmq;

/** The kind of queue created for each consumer group. */
public enum QueueType {
    /**
     * Classic queues (the default): a single node holds the messages. Redeliveries after a consumer
     * crash are counted as one extra attempt because classic queues only report a "redelivered" flag.
     */
    CLASSIC,
    /**
     * Quorum queues: replicated with Raft, the recommended type for data safety on a cluster. The broker
     * counts redeliveries exactly ({@code x-delivery-count}), so attempt numbers are exact. Requires
     * durable topology.
     */
    QUORUM
}
