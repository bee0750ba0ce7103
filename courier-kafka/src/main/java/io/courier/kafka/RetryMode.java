package io.courier.kafka;

/**
 * What a Kafka subscription does with a record whose handler threw (an
 * {@linkplain io.courier.spi.Outcome.Failed unsettled failure}). A retry requested with
 * {@link io.courier.Delivery#retryAfter} always goes through the retry topic, whatever the mode,
 * because that contract promises not to hold back other messages.
 */
public enum RetryMode {
    /**
     * Non-blocking (the default): the record is republished, with its attempt count raised, to the
     * group's retry topic {@code <topic>.<group>.retry} through the delay topics, so it comes back
     * after the subscription's failure redelivery delay; the original is committed once that publish
     * is acknowledged. Later records of the partition go on meanwhile, so a failing record may be
     * handled after records published after it.
     */
    RETRY_TOPIC,
    /**
     * Ordered in place: the record is handled again after the failure redelivery delay by the same
     * consumer, and its ordering unit (partition or key) waits. Order is kept across failures; a
     * record that never succeeds blocks its unit until a middleware dead-letters it.
     */
    IN_PLACE
}
