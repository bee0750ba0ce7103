package io.courier.spi.engine;

import java.time.Duration;

/**
 * Hears the life of a {@link ConsumerEngine}: started, broker trouble and recovery, leases lost,
 * closed. Called synchronously on the engine's threads: implementations must be fast and must not
 * throw (what they throw is logged and ignored). Every method has an empty default.
 */
public interface EngineListener {

    /** A listener that does nothing. */
    EngineListener NONE = new EngineListener() {
    };

    /** The engine started fetching. */
    default void started(String name) {
    }

    /** A fetch or settlement failed; the engine backs off {@code backoff} and tries again. */
    default void fetchFailed(String name, Throwable error, Duration backoff) {
    }

    /** The broker answers again after failures lasting {@code downtime}. */
    default void recovered(String name, Duration downtime) {
    }

    /** {@code count} records were taken by another consumer after their leases could not be extended. */
    default void leasesLost(String name, int count) {
    }

    /**
     * The engine closed: {@code released} records were given back unhandled and {@code abandoned}
     * handlers were still running at the shutdown timeout (interrupted; their records are redelivered).
     */
    default void closed(String name, int released, int abandoned) {
    }
}
