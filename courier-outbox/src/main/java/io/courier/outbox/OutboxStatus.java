package io.courier.outbox;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * How far behind the relay of one destination is, for health checks and metrics.
 *
 * @param destination the destination's name
 * @param unsent      messages written and committed but not yet acknowledged by the destination,
 *                    including delayed ones that are not due yet and ones being sent now
 * @param sending     of those, the ones a relay has claimed and is sending
 * @param oldestDueAt when the earliest-written unsent message became due; empty when none is unsent
 * @param lag         how long that message has been due and unsent (zero when none)
 * @param parked      messages parked after a refusal, waiting for an operator
 * @param measuredAt  when the figures were read
 */
public record OutboxStatus(String destination, long unsent, long sending, Optional<Instant> oldestDueAt, Duration lag,
                           long parked, Instant measuredAt) {

    /** Checks the figures. */
    public OutboxStatus {
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(oldestDueAt, "oldestDueAt");
        Objects.requireNonNull(lag, "lag");
        Objects.requireNonNull(measuredAt, "measuredAt");
    }
}
