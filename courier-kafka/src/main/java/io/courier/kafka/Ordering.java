package io.courier.kafka;

/**
 * The unit inside which a Kafka subscription handles records one at a time and in offset order.
 * Different units run concurrently, up to the subscription's concurrency.
 */
public enum Ordering {
    /**
     * One partition at a time (the default): records of one partition that have a key are handled in
     * offset order; concurrency for them comes from having several partitions. Records without a key
     * carry no order (a publisher spreads them over the partitions): when the subscription has more
     * handlers than assigned partitions, each partition's unkeyed records are spread round-robin over
     * {@code ceil(concurrency / assigned partitions)} lanes, so that {@code concurrency(50)} on a
     * 6-partition topic runs up to 50 handlers at once. With {@code concurrency} at most the number of
     * assigned partitions, a partition's records all run in offset order, as with keys: a topic of one
     * partition used as a queue of unkeyed messages in publish order wants {@code concurrency(1)} (or
     * keys). Offsets are committed only up to the first unfinished record of each partition either way.
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
