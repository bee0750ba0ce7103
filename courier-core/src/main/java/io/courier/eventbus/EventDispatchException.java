package io.courier.eventbus;

import io.courier.CourierException;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * One or more handlers of an event failed. Reports <em>every</em> failure, not only the first: each
 * {@link HandlerFailure} names the handler, the event type and what it threw.
 *
 * <p>The first failure's error is the {@linkplain #getCause() cause}; the errors of the other
 * failures are attached as {@linkplain #getSuppressed() suppressed} exceptions, so a logged stack
 * trace shows them all.
 */
public class EventDispatchException extends CourierException {

    private static final long serialVersionUID = 1L;

    private final transient Object event;
    private final transient List<HandlerFailure> failures;
    private final int handlerCount;

    /**
     * An exception for {@code event}, which was dispatched to {@code handlerCount} handlers of which
     * those in {@code failures} failed.
     *
     * @throws IllegalArgumentException if {@code failures} is empty or larger than {@code handlerCount}
     */
    public EventDispatchException(Object event, int handlerCount, List<HandlerFailure> failures) {
        super(describe(event, handlerCount, failures), failures.isEmpty() ? null : failures.get(0).error());
        Objects.requireNonNull(event, "event");
        if (failures.isEmpty()) {
            throw new IllegalArgumentException("failures must not be empty");
        }
        if (handlerCount < failures.size()) {
            throw new IllegalArgumentException("handlerCount must be >= the number of failures ("
                    + failures.size() + "), but was " + handlerCount);
        }
        this.event = event;
        this.failures = List.copyOf(failures);
        this.handlerCount = handlerCount;
        for (int i = 1; i < this.failures.size(); i++) {
            Throwable error = this.failures.get(i).error();
            if (error != getCause()) {
                addSuppressed(error);
            }
        }
    }

    /** The event whose handlers failed. */
    public Object event() {
        return event;
    }

    /** Every handler failure, in subscription order; never empty. */
    public List<HandlerFailure> failures() {
        return failures;
    }

    /** How many handlers the event was dispatched to (failed or not). */
    public int handlerCount() {
        return handlerCount;
    }

    private static String describe(Object event, int handlerCount, List<HandlerFailure> failures) {
        String type = event == null ? "null" : event.getClass().getName();
        return failures.size() + " of " + handlerCount + " handler(s) failed for event " + type + ": "
                + failures.stream().map(HandlerFailure::toString).collect(Collectors.joining("; "));
    }

    /**
     * One handler's failure.
     *
     * @param handlerName the handler's name
     * @param eventType   the class of the event it failed on
     * @param error       what it threw
     */
    public record HandlerFailure(String handlerName, Class<?> eventType, Throwable error) {

        /** Validates. */
        public HandlerFailure {
            Objects.requireNonNull(handlerName, "handlerName");
            Objects.requireNonNull(eventType, "eventType");
            Objects.requireNonNull(error, "error");
        }

        /** {@code handler 'name' failed on Type: ExceptionClass: message}. */
        @Override
        public String toString() {
            return "handler '" + handlerName + "' failed on " + eventType.getSimpleName() + ": " + error;
        }
    }
}
