package io.courier.spi.engine;

import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * Logs a repeating problem at WARN at most once per interval, counting what it left out, and the
 * rest at DEBUG; {@link #recovered} logs once at INFO when the problem ends. Keeps a broker outage
 * from flooding the log with one line per attempt. Thread-safe.
 */
public final class RateLimitedLog {

    private final Logger log;
    private final Clock clock;
    private final long intervalMillis;
    private long lastWarnAt = Long.MIN_VALUE;
    private long suppressed;
    private long failingSince;
    private boolean failing;

    /** Warnings to {@code log}, at most one per {@code interval} of {@code clock}. */
    public RateLimitedLog(Logger log, Clock clock, Duration interval) {
        this.log = log;
        this.clock = clock;
        this.intervalMillis = interval.toMillis();
    }

    /**
     * Reports one occurrence of a problem: WARN when the interval since the last warning passed
     * (saying how many were left out meanwhile), DEBUG otherwise.
     *
     * @return true when it was logged at WARN
     */
    public synchronized boolean warn(String text) {
        long now = clock.millis();
        if (!failing) {
            failing = true;
            failingSince = now;
        }
        if (lastWarnAt != Long.MIN_VALUE && now - lastWarnAt < intervalMillis) {
            suppressed++;
            log.debug("{}", text);
            return false;
        }
        if (suppressed > 0) {
            log.warn("{} ({} similar message(s) in the last {} s not shown)", text, suppressed, intervalMillis / 1000);
        } else {
            log.warn("{}", text);
        }
        lastWarnAt = now;
        suppressed = 0;
        return true;
    }

    /**
     * The problem ended: logs {@code text} and how long it lasted at INFO once, if a problem was
     * reported since the last recovery.
     *
     * @return how long the problem lasted, or {@link Duration#ZERO} when none was reported
     */
    public synchronized Duration recovered(String text) {
        if (!failing) {
            return Duration.ZERO;
        }
        Duration lasted = Duration.ofMillis(Math.max(0, clock.millis() - failingSince));
        log.info("{} after {} ms", text, lasted.toMillis());
        failing = false;
        lastWarnAt = Long.MIN_VALUE;
        suppressed = 0;
        return lasted;
    }
}
