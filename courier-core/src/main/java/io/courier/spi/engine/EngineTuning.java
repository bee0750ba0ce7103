package io.courier.spi.engine;

import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link ConsumerEngine} batches and waits; a transport picks values suited to its broker.
 *
 * @param fetchBatch    records asked for per {@link DeliverySource#exchange}, at most
 * @param settleBatch   settlements gathered before they are written without a fetch
 * @param settleLinger  longest a settlement waits to be written with others
 * @param maxWait       longest one {@code exchange} may wait for records when none are available
 * @param fetchers      fetch threads; more than one only while a backlog keeps the last fetch full,
 *                      and only for sources whose {@code exchange} is thread-safe
 * @param minBackoff    first wait after a failure, doubling on each further failure
 * @param maxBackoff    longest wait after failures
 * @param laneTurn      records one lane handles in a row on a thread before other lanes get their turn
 */
public record EngineTuning(int fetchBatch, int settleBatch, Duration settleLinger, Duration maxWait, int fetchers,
                           Duration minBackoff, Duration maxBackoff, int laneTurn) {

    /** Validates. */
    public EngineTuning {
        positive(fetchBatch, "fetchBatch");
        positive(settleBatch, "settleBatch");
        positive(fetchers, "fetchers");
        positive(laneTurn, "laneTurn");
        Objects.requireNonNull(settleLinger, "settleLinger");
        Objects.requireNonNull(maxWait, "maxWait");
        new Backoff(minBackoff, maxBackoff);   // validates the pair
    }

    /** Fetches of 100, settlements in batches of 100 within 5 ms, 100 ms waits, one fetcher, backoff 100 ms to 5 s. */
    public static EngineTuning defaults() {
        return new EngineTuning(100, 100, Duration.ofMillis(5), Duration.ofMillis(100), 1,
                Duration.ofMillis(100), Duration.ofSeconds(5), 256);
    }

    /** These values with {@code fetchBatch} records per fetch. */
    public EngineTuning withFetchBatch(int n) {
        return new EngineTuning(n, settleBatch, settleLinger, maxWait, fetchers, minBackoff, maxBackoff, laneTurn);
    }

    /** These values with settlements written in batches of {@code n}. */
    public EngineTuning withSettleBatch(int n) {
        return new EngineTuning(fetchBatch, n, settleLinger, maxWait, fetchers, minBackoff, maxBackoff, laneTurn);
    }

    /** These values with settlements lingering at most {@code linger}. */
    public EngineTuning withSettleLinger(Duration linger) {
        return new EngineTuning(fetchBatch, settleBatch, linger, maxWait, fetchers, minBackoff, maxBackoff, laneTurn);
    }

    /** These values with fetches waiting at most {@code wait}. */
    public EngineTuning withMaxWait(Duration wait) {
        return new EngineTuning(fetchBatch, settleBatch, settleLinger, wait, fetchers, minBackoff, maxBackoff, laneTurn);
    }

    /** These values with up to {@code n} fetch threads. */
    public EngineTuning withFetchers(int n) {
        return new EngineTuning(fetchBatch, settleBatch, settleLinger, maxWait, n, minBackoff, maxBackoff, laneTurn);
    }

    /** These values with backoff from {@code min} to {@code max}. */
    public EngineTuning withBackoff(Duration min, Duration max) {
        return new EngineTuning(fetchBatch, settleBatch, settleLinger, maxWait, fetchers, min, max, laneTurn);
    }

    /** These values with {@code n} records per lane turn. */
    public EngineTuning withLaneTurn(int n) {
        return new EngineTuning(fetchBatch, settleBatch, settleLinger, maxWait, fetchers, minBackoff, maxBackoff, n);
    }

    private static void positive(int value, String what) {
        if (value < 1) {
            throw new IllegalArgumentException(what + " must be >= 1, but was " + value);
        }
    }
}
