package io.courier.spi.engine;

import java.time.Duration;
import java.util.List;

/**
 * A transport's broker I/O for one subscription, driven by a {@link ConsumerEngine}: everything
 * about threads, budgets, ordering, closing, lease extension, backoff and logging is the engine's.
 *
 * <p>The engine calls {@link #exchange} and {@link #extendLeases} from its fetch threads only (one
 * unless {@link EngineTuning#fetchers()} allows more, in which case {@code exchange} must be
 * thread-safe), {@link #mayStart} from handler threads, {@link #settle(Settled)} from handler threads
 * when {@link #settlesOnWorker()}, {@link #wakeUp()} from any thread, and {@link #release} and
 * {@link #close} once, from the thread closing the subscription, after every fetch thread stopped.
 *
 * <p>An exception thrown by any method is logged (rate-limited) and, for {@code exchange}, retried
 * with backoff: the settlements passed to a failed {@code exchange} are passed again. A source never
 * needs to catch and log broker failures itself.
 *
 * @param <R> the source's handle of one fetched record
 */
public interface DeliverySource<R> {

    /** Called once by {@link ConsumerEngine#start()} before any other method. */
    default void start(SourceContext<R> context) throws Exception {
    }

    /**
     * Writes {@code settled} (possibly empty; never when {@link #settlesOnWorker()}) and fetches up
     * to {@code max} records (possibly 0: settle only). When nothing is available it may wait up to
     * {@code maxWait} for records, returning early when {@link #wakeUp()} is called.
     *
     * @return the records fetched, in the order they are to be handled within a lane
     * @throws Exception when the broker failed; nothing in {@code settled} counts as written
     */
    List<Fetched<R>> exchange(List<Settled<R>> settled, int max, Duration maxWait) throws Exception;

    /**
     * True when {@link #settle(Settled)} settles each record on the handler's thread as soon as it
     * is handled (acknowledgements the broker takes one by one, cheaply); false when settlements are
     * gathered and passed to {@link #exchange} in batches.
     */
    default boolean settlesOnWorker() {
        return false;
    }

    /**
     * True when fetching is cheap and thread-safe (a queue in this process, deliveries a broker client
     * already pushed): each of the {@code concurrency} handler threads then calls {@link #exchange} for
     * itself, possibly several at once, and handles what it got, with no hand-off from a fetch thread.
     * Requires {@link #settlesOnWorker()}; lanes do not apply (such a source orders records itself). A
     * record that must wait (it arrived before {@link Fetched#notBefore()}, or waits for an
     * {@linkplain #inPlaceRetry in-place retry}) is put aside, held and counted in flight but holding no
     * thread, and run by the first handler thread that is free once it is due. Default false.
     */
    default boolean fetchesOnWorker() {
        return false;
    }

    /**
     * Settles one record on the handler's thread; only called when {@link #settlesOnWorker()}. Must
     * be thread-safe. A failure is logged; the record is then redelivered by the broker (its lease
     * expires or its connection closes).
     */
    default void settle(Settled<R> settled) throws Exception {
        throw new UnsupportedOperationException("settle on worker");
    }

    /**
     * Asked on the handler's thread right before {@code fetched}'s handler first starts (its due time
     * reached, its lane's turn come); false skips it: the engine forgets the record, which is neither
     * settled nor released (the source knows it is no longer its to handle, e.g. its broker channel
     * was closed or handed over, and the broker delivers it again). Must be thread-safe and must not
     * block. Default: true.
     */
    default boolean mayStart(Fetched<R> fetched) {
        return true;
    }

    /**
     * When a record whose handler failed is to be handled again in its lane, holding the lane (an
     * in-place retry), the delay before it runs again; {@code null} to settle the outcome normally.
     */
    default Duration inPlaceRetry(Settled<R> settled) {
        return null;
    }

    /**
     * Gives records fetched but never handled back to the broker so that other consumers get them
     * now, not when a lease expires. Called once while closing, with the records in fetch order. The default does nothing (the
     * broker redelivers them when the connection closes or the lease expires).
     */
    default void release(List<Fetched<R>> unhandled) throws Exception {
    }

    /** True when records carry leases ({@link Fetched#leaseUntil()}) that {@link #extendLeases} can extend. */
    default boolean extendsLeases() {
        return false;
    }

    /**
     * Extends the leases of {@code held} (fetched, not yet settled) to {@code until} (epoch ms).
     *
     * @return for each record, whether its lease was extended (false: another consumer holds it now)
     */
    default boolean[] extendLeases(List<Fetched<R>> held, long until) throws Exception {
        throw new UnsupportedOperationException("lease extension");
    }

    /**
     * The longest the main fetch thread may go without calling {@link #exchange} while the
     * subscription runs or closes, for brokers whose client must be called regularly to keep its
     * membership (a Kafka consumer that does not poll leaves its group and holds up rebalances). When
     * neither a fetch nor a settlement is due within this interval (the in-flight budget is used up,
     * handlers are slow), the engine calls {@code exchange(List.of(), 0, Duration.ZERO)}. The default,
     * {@code null}, means no such calls.
     */
    default Duration keepAliveInterval() {
        return null;
    }

    /** Makes a waiting {@link #exchange} return soon. Called from any thread; must not block. */
    default void wakeUp() {
    }

    /** Releases the source's broker resources (channels, consumers). Called once, last. */
    default void close() {
    }
}
