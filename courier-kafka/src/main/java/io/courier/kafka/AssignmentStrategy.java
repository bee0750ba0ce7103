package io.courier.kafka;

/**
 * How a consumer group spreads partitions over its consumers ({@code partition.assignment.strategy}
 * of the classic group protocol).
 */
public enum AssignmentStrategy {
    /**
     * Incremental cooperative rebalancing with sticky assignment (the default): on a rebalance only
     * the partitions that move are revoked, the others keep being consumed.
     */
    COOPERATIVE_STICKY("org.apache.kafka.clients.consumer.CooperativeStickyAssignor"),
    /** Sticky assignment with eager rebalancing: every partition is revoked on each rebalance. */
    STICKY("org.apache.kafka.clients.consumer.StickyAssignor"),
    /** Range assignment per topic, eager rebalancing. */
    RANGE("org.apache.kafka.clients.consumer.RangeAssignor"),
    /** Round-robin over all partitions, eager rebalancing. */
    ROUND_ROBIN("org.apache.kafka.clients.consumer.RoundRobinAssignor");

    private final String assignorClass;

    AssignmentStrategy(String assignorClass) {
        this.assignorClass = assignorClass;
    }

    /** The assignor class name Kafka expects. */
    public String assignorClass() {
        return assignorClass;
    }
}
