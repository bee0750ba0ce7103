package io.courier.rabbitmq;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How one Courier topic maps onto RabbitMQ: the exchange messages are published to, the routing key
 * they carry, and how each consumer group's queue is bound to that exchange.
 *
 * <p>Without configuration a topic {@code T} uses {@link #defaultFor(String) defaultFor(T)}: a durable
 * {@code topic} exchange named {@code T}, routing key {@code T}, group queues bound with {@code #}
 * (everything). To share one exchange between topics, or to use another exchange type:
 *
 * <pre>{@code
 * TopicTopology orders = TopicTopology.builder("events", ExchangeType.TOPIC)
 *     .routingKey("orders.created")
 *     .bindingKeys("orders.*")
 *     .build();
 * RabbitMqConfig config = RabbitMqConfig.builder().topic("orders", orders).build();
 * }</pre>
 *
 * @param exchange          the exchange name; must not be blank or start with {@code amq.}
 * @param exchangeType      the exchange type
 * @param routingKey        the routing key every message of the topic is published with (ignored by
 *                          fanout and headers exchanges)
 * @param bindingKeys       the keys each group queue is bound with (one binding per key); for fanout
 *                          and headers exchanges a single empty key
 * @param bindingArguments  arguments of each binding; for a headers exchange the header values to
 *                          match and {@code x-match} ({@code all} or {@code any}); empty otherwise
 */
public record TopicTopology(String exchange, ExchangeType exchangeType, String routingKey, List<String> bindingKeys,
                            Map<String, Object> bindingArguments) {

    /** Validates and copies. */
    public TopicTopology {
        Objects.requireNonNull(exchange, "exchange");
        if (exchange.isBlank()) {
            throw new IllegalArgumentException("exchange must not be blank");
        }
        if (exchange.startsWith("amq.")) {
            throw new IllegalArgumentException("exchange must not start with 'amq.' (reserved by RabbitMQ), but was '" + exchange + "'");
        }
        if (exchange.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 255) {
            throw new IllegalArgumentException("exchange must be at most 255 bytes, but was '" + exchange + "'");
        }
        Objects.requireNonNull(exchangeType, "exchangeType");
        Objects.requireNonNull(routingKey, "routingKey");
        if (routingKey.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 255) {
            throw new IllegalArgumentException("routingKey must be at most 255 bytes, but was '" + routingKey + "'");
        }
        bindingKeys = List.copyOf(bindingKeys);
        if (bindingKeys.isEmpty()) {
            throw new IllegalArgumentException("bindingKeys must not be empty (use \"#\" on a topic exchange to bind everything)");
        }
        bindingArguments = Map.copyOf(bindingArguments);
    }

    /**
     * The default for {@code topic}: a {@code topic} exchange named after the topic, the topic name as
     * routing key, and group queues bound with {@code #}.
     */
    public static TopicTopology defaultFor(String topic) {
        return new TopicTopology(topic, ExchangeType.TOPIC, topic, List.of("#"), Map.of());
    }

    /**
     * A builder for an exchange of the given type. Defaults: routing key empty; binding keys {@code #}
     * for a topic exchange, the routing key for a direct exchange, the empty key for fanout and headers.
     */
    public static Builder builder(String exchange, ExchangeType type) {
        return new Builder(exchange, type);
    }

    /** Builds a {@link TopicTopology}. Not thread-safe. */
    public static final class Builder {
        private final String exchange;
        private final ExchangeType type;
        private String routingKey = "";
        private List<String> bindingKeys;
        private final Map<String, Object> bindingArguments = new LinkedHashMap<>();

        private Builder(String exchange, ExchangeType type) {
            this.exchange = exchange;
            this.type = Objects.requireNonNull(type, "type");
        }

        /** The routing key messages of the topic are published with. */
        public Builder routingKey(String routingKey) {
            this.routingKey = Objects.requireNonNull(routingKey, "routingKey");
            return this;
        }

        /** The keys each group queue is bound with; replaces the default. */
        public Builder bindingKeys(String... keys) {
            this.bindingKeys = new ArrayList<>(List.of(keys));
            return this;
        }

        /** Adds a binding argument, e.g. {@code x-match} or a header to match on a headers exchange. */
        public Builder bindingArgument(String name, Object value) {
            bindingArguments.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** Validates and builds. */
        public TopicTopology build() {
            List<String> keys = bindingKeys;
            if (keys == null) {
                keys = switch (type) {
                    case TOPIC -> List.of("#");
                    case DIRECT -> List.of(routingKey);
                    case FANOUT, HEADERS -> List.of("");
                };
            }
            return new TopicTopology(exchange, type, routingKey, keys, bindingArguments);
        }
    }
}
