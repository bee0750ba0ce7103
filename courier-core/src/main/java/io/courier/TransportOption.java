package io.courier;

/**
 * A transport-specific setting of one subscription, carried by {@link SubscriptionOptions} next to
 * the transport-independent ones, so that it also reaches a transport through a {@link Router}:
 *
 * <pre>{@code
 * router.route(SubscriptionOptions.builder("orders", "billing")
 *         .with(KafkaSubscriptionOptions.builder().ordering(Ordering.KEY).build())
 *         .build(), handler);
 * }</pre>
 *
 * <p>Each transport module defines its own option types (Kafka: {@code KafkaSubscriptionOptions}).
 * A subscription carries at most one option of each type; a transport reads the ones it understands
 * with {@link SubscriptionOptions#option(Class)}. A transport handed an option type it does not
 * understand refuses the subscription with an {@link IllegalArgumentException} naming the option and
 * the transport, instead of silently running without it: options written for Kafka never quietly
 * do nothing on Redis.
 *
 * <p>Implementations must be immutable values with {@code equals}, {@code hashCode} and a readable
 * {@code toString} (a record is ideal), because {@link SubscriptionOptions} compares and prints them.
 */
public interface TransportOption {
}
