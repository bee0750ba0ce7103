package io.courier.kafka;

/**
 * The unit inside which a Kafka subscription handles records one at a time and in offset order.
 * Different units run concurrently, up to the subscription's concurrency.
 */
public enum Ordering {
    /**
     * One partition at a time (the default): records of one partition are handled in offset order;
     * concurrency comes from having several partitions.
     */
    PARTITION,
    /**
     * One key at a time: records with the same key (which Kafka puts in the same partition) are handled
     * in offset order, records with different keys of the same partition run concurrently. Records
     * without a key are not ordered. Offsets are still committed only up to the first unfinished
     * record of each partition.
     */
    KEY
}
