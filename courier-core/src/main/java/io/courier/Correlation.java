package io.courier;

import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * The correlation id of the message being handled on the current thread.
 *
 * <p>The {@link io.courier.middleware.CorrelationMiddleware} sets it for the duration of a
 * handler; the {@linkplain Router#publisher() router's publisher} stamps it as the
 * {@link Headers#CORRELATION_ID} header on every message published from inside that handler that
 * has none, so a chain of messages caused by one request shares one id.
 */
public final class Correlation {

    private static final ThreadLocal<String> CURRENT = new ThreadLocal<>();

    private Correlation() {
    }

    /** The correlation id bound to this thread, if any. */
    public static Optional<String> current() {
        return Optional.ofNullable(CURRENT.get());
    }

    /** Runs {@code work} with {@code correlationId} bound to this thread, restoring the previous value after. */
    public static <T> T callWith(String correlationId, Callable<T> work) throws Exception {
        Objects.requireNonNull(correlationId, "correlationId");
        String previous = CURRENT.get();
        CURRENT.set(correlationId);
        try {
            return work.call();
        } finally {
            if (previous == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(previous);
            }
        }
    }

    /** Adds the current correlation id to {@code message} unless it already has one. */
    public static Message stamp(Message message) {
        String id = CURRENT.get();
        if (id == null || message.headers().containsKey(Headers.CORRELATION_ID)) {
            return message;
        }
        return message.withHeader(Headers.CORRELATION_ID, id);
    }
}
