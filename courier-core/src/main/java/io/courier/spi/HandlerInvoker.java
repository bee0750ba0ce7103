package io.courier.spi;

import io.courier.Delivery;
import io.courier.Handler;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a handler for a transport and turns what happened into an {@link Outcome}. Every transport
 * uses this so that the settlement rules are the same everywhere: a normal return acks (or retries
 * if one was requested, unless the message was dead-lettered: a dead letter is always acked),
 * anything thrown, {@link Error}s included, becomes {@link Outcome.Failed} and never escapes into
 * the consumer loop.
 */
public final class HandlerInvoker {

    private static final Logger log = LoggerFactory.getLogger(HandlerInvoker.class);
    /** Acks carry nothing, so every handled message shares one. */
    private static final Outcome ACK = new Outcome.Ack();

    private HandlerInvoker() {
    }

    /**
     * Calls {@code handler} with {@code delivery} and decides the settlement.
     *
     * @param failureRedeliveryDelay delay for redelivery when the handler throws
     */
    public static Outcome invoke(Handler handler, Delivery delivery, Duration failureRedeliveryDelay) {
        try {
            handler.handle(delivery);
        } catch (Throwable t) {
            if (t instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            log.debug("handler failed for {}: {}", delivery, t.toString());
            return new Outcome.Failed(t, failureRedeliveryDelay);
        }
        if (delivery.deadLettered().isPresent()) {
            return ACK;   // stored in a dead-letter topic: done here, even if a retry was requested before
        }
        return delivery.retryRequest()
                .<Outcome>map(r -> new Outcome.Retry(r.delay(), r.headers()))
                .orElse(ACK);
    }
}
