package io.courier.saga.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * A clock that moves only when told, for testing sagas without sleeping: give it to
 * {@code SagaOrchestrator.Builder.clock} together with {@code manualTimers()}, then
 * {@link #advance} past a step's timeout and call {@code orchestrator.tick()}.
 *
 * <pre>{@code
 * ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
 * SagaOrchestrator sagas = SagaOrchestrator.builder(transport).saga(order).clock(clock).manualTimers().start();
 * String id = sagas.begin(order, data);
 * clock.advance(Duration.ofSeconds(31));      // past the step's 30 s timeout
 * sagas.tick();                               // the timeout fires now
 * }</pre>
 *
 * Thread-safe.
 */
public final class ManualClock extends Clock {

    private final ZoneId zone;
    private volatile Instant now;

    private ManualClock(Instant now, ZoneId zone) {
        this.now = Objects.requireNonNull(now, "now");
        this.zone = Objects.requireNonNull(zone, "zone");
    }

    /** A clock standing at {@code now}, in UTC. */
    public static ManualClock at(Instant now) {
        return new ManualClock(now, ZoneOffset.UTC);
    }

    /** Moves the clock forward by {@code duration}. */
    public synchronized void advance(Duration duration) {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("a clock moves forward only, but was asked to move " + duration);
        }
        now = now.plus(duration);
    }

    @Override
    public ZoneId getZone() {
        return zone;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return new ManualClock(now, zone);
    }

    @Override
    public Instant instant() {
        return now;
    }

    @Override
    public long millis() {
        return now.toEpochMilli();
    }
}
