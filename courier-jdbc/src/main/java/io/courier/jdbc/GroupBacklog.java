package io.courier.jdbc;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * How far behind one consumer group of the SQL transport is, read at {@code measuredAt}.
 *
 * @param topic       the topic
 * @param group       the consumer group
 * @param pending     messages the group has not acknowledged yet: ready, delayed, being handled or
 *                    waiting for a retry
 * @param ready       of those, the ones a consumer could claim now
 * @param inFlight    of those, the ones a consumer has claimed and not settled (leased)
 * @param oldestDueAt when the earliest-written pending message became deliverable (its publish time,
 *                    or its delivery time when it was published with a delay); empty when nothing
 *                    is pending
 * @param measuredAt  when the figures were read, by the transport's clock
 */
public record GroupBacklog(String topic, String group, long pending, long ready, long inFlight,
                           Optional<Instant> oldestDueAt, Instant measuredAt) {

    /** Checks the figures. */
    public GroupBacklog {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(oldestDueAt, "oldestDueAt");
        Objects.requireNonNull(measuredAt, "measuredAt");
        if (pending < 0 || ready < 0 || inFlight < 0) {
            throw new IllegalArgumentException("counts must not be negative: pending=" + pending + ", ready=" + ready
                    + ", inFlight=" + inFlight);
        }
    }

    /**
     * The lag: how long the earliest-written pending message has been deliverable and not
     * acknowledged; zero when nothing is pending or it is not due yet. (A later message that is
     * overdue while the earliest one is delayed into the future is not seen: the measure is cheap,
     * one index lookup, so that health checks can call it often.)
     */
    public Duration lag() {
        return oldestDueAt.map(t -> t.isBefore(measuredAt) ? Duration.between(t, measuredAt) : Duration.ZERO)
                .orElse(Duration.ZERO);
    }
}
