package io.courier;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Publishes typed values: each value is encoded with the router's {@link Codec} and published
 * through the router's {@linkplain Router#publisher() publisher}, so a typed route on the topic
 * receives it decoded. Get one from {@link Router#publisher(Class, Function)} or
 * {@link Router#publisher(Class)}; for a one-off publish, {@link Router#publish(String, Object)} does
 * the same without a publisher object.
 *
 * <pre>{@code
 * TypedPublisher<OrderPlaced> orders = router.publisher(OrderPlaced.class, OrderPlaced::customer);
 * orders.publish("orders", new OrderPlaced(42, "customer-7", 1999)).join();   // durable once join returns
 *
 * // received, decoded, by
 * router.route("orders", "billing", OrderPlaced.class, (order, delivery) -> bill(order));
 * }</pre>
 *
 * <p><b>The message.</b> Each value becomes a message with a new id, the encoded payload, and:
 * <ul>
 *   <li>the key returned by the key function, when there is one and it returns non-null; messages
 *       with one key are handled in publish order on transports with per-key ordering, and land in
 *       one partition on partitioned transports;</li>
 *   <li>the {@link Headers#CONTENT_TYPE} header: the codec's {@link Codec#contentType() media type};</li>
 *   <li>the {@link Headers#EVENT_TYPE} header ({@code ce-type}): the name given with
 *       {@link #withEventType(String)}, by default the value's class's simple name (its full name for
 *       an anonymous class), the name a {@link io.courier.eventbus.TransportEventBus} gives a class
 *       it has no registered name for.</li>
 * </ul>
 * {@link #toMessage(Object)} returns that message without publishing it, for another path (a
 * delayed publish, a transactional outbox, a batch mixed with other messages).
 *
 * <p><b>Outcome.</b> The futures complete as {@link Publisher#publish} and
 * {@link Publisher#publishAll} say: once the transport made the message(s) durable, or
 * exceptionally with a {@link PublishException}. A null topic or value, a {@link Message} given as
 * a value (publish those with {@link Router#publisher()}) or a value the codec cannot encode is
 * thrown at once, before anything is published.
 *
 * <p>Immutable and thread-safe: share one instance between threads.
 *
 * @param <T> the type of the values published
 */
public final class TypedPublisher<T> {

    private final Publisher publisher;
    private final Codec codec;
    private final Class<T> type;
    private final Function<? super T, String> keyFunction;
    private final String eventType;

    TypedPublisher(Publisher publisher, Codec codec, Class<T> type, Function<? super T, String> keyFunction, String eventType) {
        this.publisher = publisher;
        this.codec = codec;
        this.type = type;
        this.keyFunction = keyFunction;
        this.eventType = eventType;
    }

    /** The type of the values this publisher accepts. */
    public Class<T> type() {
        return type;
    }

    /**
     * A publisher like this one that writes {@code eventType} in the {@link Headers#EVENT_TYPE}
     * header of every message, instead of the value's class name; e.g. {@code "order.placed"}, or
     * the name a {@link io.courier.eventbus.TransportEventBus} registered for the type.
     *
     * @throws IllegalArgumentException if {@code eventType} is blank
     */
    public TypedPublisher<T> withEventType(String eventType) {
        Objects.requireNonNull(eventType, "eventType");
        if (eventType.isBlank()) {
            throw new IllegalArgumentException("eventType must not be blank");
        }
        return new TypedPublisher<>(publisher, codec, type, keyFunction, eventType);
    }

    /**
     * Encodes {@code value} and publishes it to {@code topic}.
     *
     * @return a future that completes once the message is durable (see {@link Publisher#publish})
     * @throws NullPointerException if {@code topic} or {@code value} is null
     * @throws CourierException     if the codec cannot encode the value
     */
    public CompletableFuture<PublishResult> publish(String topic, T value) {
        Message message = toMessage(requireValue(topic, value));
        return publisher.publish(topic, message);
    }

    /**
     * Encodes every value and publishes them to {@code topic} as one batch, in the given order.
     *
     * @return a future with one result per value, in order (see {@link Publisher#publishAll} for a
     *         batch that fails part-way)
     * @throws NullPointerException if {@code topic}, the list or one of its values is null (the
     *                              message gives the index)
     * @throws CourierException     if the codec cannot encode a value; nothing is published then
     */
    public CompletableFuture<List<PublishResult>> publishAll(String topic, List<? extends T> values) {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(values, "values");
        List<Message> messages = new ArrayList<>(values.size());
        for (int i = 0; i < values.size(); i++) {
            T value = values.get(i);
            if (value == null) {
                throw new NullPointerException("values[" + i + "] to publish to '" + topic + "' must not be null");
            }
            messages.add(toMessage(value));
        }
        return publisher.publishAll(topic, messages);
    }

    /**
     * The message {@link #publish} would send for {@code value}: a new id, the encoded payload, the
     * key and the headers described in the class comment.
     *
     * @throws NullPointerException if {@code value} is null
     * @throws CourierException     if the codec cannot encode the value
     */
    public Message toMessage(T value) {
        Objects.requireNonNull(value, "value");
        T typed = type.cast(value);
        return message(typed, keyFunction == null ? null : keyFunction.apply(typed));
    }

    /** Publishes {@code value} with an explicit key: {@link Router#publish(String, String, Object)}. */
    CompletableFuture<PublishResult> publish(String topic, String key, T value) {
        Objects.requireNonNull(key, "key");
        return publisher.publish(topic, message(type.cast(requireValue(topic, value)), key));
    }

    private Message message(T value, String key) {
        if (value instanceof Message m) {
            throw new IllegalArgumentException("value must be a payload to encode, but was a Message (id "
                    + m.id() + "); publish a Message with Router.publisher().publish(topic, message)");
        }
        return Message.builder()
                .key(key)
                .header(Headers.CONTENT_TYPE, codec.contentType())
                .header(Headers.EVENT_TYPE, eventType != null ? eventType : defaultEventType(value.getClass()))
                .payload(codec.encode(value))
                .build();
    }

    private static <V> V requireValue(String topic, V value) {
        Objects.requireNonNull(topic, "topic");
        if (value == null) {
            throw new NullPointerException("value to publish to '" + topic + "' must not be null");
        }
        return value;
    }

    private static String defaultEventType(Class<?> c) {
        String simple = c.getSimpleName();
        return simple.isEmpty() ? c.getName() : simple;
    }

    @Override
    public String toString() {
        return "TypedPublisher{" + type.getName() + (keyFunction != null ? ", keyed" : "")
                + (eventType != null ? ", eventType=" + eventType : "") + '}';
    }
}
