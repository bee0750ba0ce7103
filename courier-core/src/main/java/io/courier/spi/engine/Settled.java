package io.courier.spi.engine;

import io.courier.spi.Outcome;
import java.util.Objects;

/**
 * A handled record and how it must be settled, handed back to its {@link DeliverySource}.
 *
 * @param fetched the record as it was fetched
 * @param outcome what the handler's run decided: ack, retry after a delay, or failed
 * @param <R>     the source's record type
 */
public record Settled<R>(Fetched<R> fetched, Outcome outcome) {

    /** Validates. */
    public Settled {
        Objects.requireNonNull(fetched, "fetched");
        Objects.requireNonNull(outcome, "outcome");
    }

    /** The source's handle of the record. */
    public R record() {
        return fetched.record();
    }
}
