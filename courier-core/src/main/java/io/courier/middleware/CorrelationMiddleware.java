package io.courier.middleware;

import io.courier.Correlation;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Middleware;
import java.util.Objects;

/**
 * Binds a correlation id to the handler's thread for the duration of the handler, so that every
 * message published through the {@linkplain io.courier.Router#publisher() router's publisher} from
 * inside the handler carries it in {@link Headers#CORRELATION_ID} (see {@link Correlation}).
 *
 * <p>The id is the delivered message's {@link Headers#CORRELATION_ID} header when it has one, and
 * the message's own id otherwise: a chain of messages caused by one request shares the id of the
 * message that started it. The previous binding is restored afterwards.
 *
 * <pre>{@code
 * router.use(new CorrelationMiddleware());
 * router.route("orders", "shipping", d -> router.publisher().publish("shipments", shipmentFor(d)).join());
 * // the "shipments" message carries correlation-id = the order message's correlation id (or id)
 * }</pre>
 *
 * <p>Place it anywhere; the {@link TimeoutMiddleware} carries the binding over to the handler's
 * thread. Immutable and thread-safe.
 */
public final class CorrelationMiddleware implements Middleware {

    /** A correlation middleware; it has no settings. */
    public CorrelationMiddleware() {
    }

    @Override
    public Handler wrap(Handler next) {
        Objects.requireNonNull(next, "next");
        return delivery -> {
            String id = delivery.message().header(Headers.CORRELATION_ID)
                    .filter(value -> !value.isBlank())
                    .orElse(delivery.message().id());
            Correlation.callWith(id, () -> {
                next.handle(delivery);
                return null;
            });
        };
    }
}
