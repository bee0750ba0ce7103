package io.courier.spi;

import io.courier.MessageOrdering;
import io.courier.SubscriptionOptions;
import io.courier.TransportOption;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The checks a transport's {@code subscribe} makes on the parts of {@link SubscriptionOptions} that
 * not every transport can honour: {@linkplain SubscriptionOptions#transportOptions() transport
 * options} and the {@linkplain SubscriptionOptions#ordering() ordering} asked for. Each fails fast,
 * before anything is declared or started, with a message naming the subscription, the transport and
 * what to do instead.
 */
public final class SubscriptionChecks {

    private SubscriptionChecks() {
    }

    /**
     * Checks that every transport option attached to {@code options} is of one of the
     * {@code understood} types.
     *
     * @param options    the subscription's options
     * @param transport  the transport's {@link io.courier.Transport#name() name}, for the message
     * @param understood the option types this transport reads; none for a transport without options
     * @throws IllegalArgumentException naming the first option not understood, its type and the transport
     */
    @SafeVarargs
    public static void requireUnderstoodOptions(SubscriptionOptions options, String transport,
            Class<? extends TransportOption>... understood) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(transport, "transport");
        List<Class<? extends TransportOption>> known = List.of(understood);
        for (TransportOption option : options.transportOptions()) {
            if (known.stream().noneMatch(type -> type.isInstance(option))) {
                throw new IllegalArgumentException("the " + transport + " transport does not understand the transport option "
                        + option.getClass().getName() + " (" + option + ") of the subscription to topic '"
                        + options.topic() + "', group '" + options.group() + "'; it understands "
                        + (known.isEmpty() ? "no transport options"
                                : known.stream().map(Class::getName).collect(Collectors.joining(", ")))
                        + ". Remove the option, or subscribe on the transport it belongs to");
            }
        }
    }

    /**
     * For a transport that cannot keep per-key order as configured: refuses
     * {@link MessageOrdering#KEY}, accepts every other ordering.
     *
     * @param options     the subscription's options
     * @param transport   the transport's {@link io.courier.Transport#name() name}, for the message
     * @param howToEnable how the user gets per-key order on this transport, a sentence for the message
     * @throws IllegalArgumentException when {@code options} ask for {@link MessageOrdering#KEY}
     */
    public static void refuseKeyOrdering(SubscriptionOptions options, String transport, String howToEnable) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(howToEnable, "howToEnable");
        if (options.ordering() == MessageOrdering.KEY) {
            throw new IllegalArgumentException("the subscription to topic '" + options.topic() + "', group '"
                    + options.group() + "' asks for ordering MessageOrdering.KEY, but this " + transport
                    + " transport does not keep per-key order: " + howToEnable);
        }
    }
}
