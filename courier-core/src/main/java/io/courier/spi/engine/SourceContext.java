package io.courier.spi.engine;

import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/**
 * What a {@link DeliverySource} may ask of its engine, for brokers that take records back on their
 * own (a Kafka rebalance revoking partitions). Methods are called from the fetch thread.
 *
 * @param <R> the source's record type
 */
public interface SourceContext<R> {

    /**
     * Removes the records matching {@code which} that were fetched but have not started, or that
     * failed and wait in their lane for an in-place retry, and returns them; the engine forgets them
     * (they no longer count in flight, never run again here, and are not released).
     */
    List<Fetched<R>> discardUnstarted(Predicate<Fetched<R>> which);

    /**
     * Waits up to {@code timeout} until no record matching {@code which} is being handled.
     *
     * @return true when none is, false when the timeout passed first
     * @throws InterruptedException when the fetch thread is interrupted
     */
    boolean awaitHandled(Predicate<Fetched<R>> which, Duration timeout) throws InterruptedException;

    /** True until the subscription starts closing. */
    boolean running();

    /** Records fetched and not yet settled (waiting, running or settling). */
    int inFlight();
}
