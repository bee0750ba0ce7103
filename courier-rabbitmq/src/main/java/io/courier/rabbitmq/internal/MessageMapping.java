package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.LongString;
import io.courier.Headers;
import io.courier.Message;
import io.courier.spi.PayloadAccess;
import io.courier.spi.IsoInstants;
import java.lang.invoke.MethodHandles;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Converts Courier messages to AMQP 0-9-1 messages and back.
 *
 * <ul>
 *   <li>id, {@code content-type} and {@code correlation-id} headers become the AMQP {@code message-id},
 *       {@code content-type} and {@code correlation-id} properties; the timestamp becomes the AMQP
 *       {@code timestamp} property (whole seconds) and, exactly, the {@code courier-timestamp} header.</li>
 *   <li>{@code ce-*} headers (CloudEvents binary mode) become {@code cloudEvents:*} AMQP headers, as the
 *       CloudEvents AMQP binding names them; both {@code cloudEvents:} and {@code cloudEvents_} are read
 *       back as {@code ce-*}.</li>
 *   <li>the key travels in the {@code courier-key} header; other headers are copied as they are.</li>
 *   <li>headers the broker adds ({@code x-death}, {@code x-delivery-count}, ...) and Courier's own
 *       bookkeeping headers are not shown to handlers.</li>
 * </ul>
 */
public final class MessageMapping {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    /** Header holding the message key. */
    public static final String KEY = "courier-key";
    /** Header holding the exact timestamp (ISO-8601). */
    public static final String TIMESTAMP = "courier-timestamp";
    /** Header holding the number of delivery attempts made before this copy was published (retry copies). */
    public static final String ATTEMPT = "courier-attempt";
    /**
     * Header holding exactly when a delayed message or copy is due (ISO-8601): the consumer holds a
     * message that arrives earlier until then (see {@link DelayLadder}); operators see it in the delay queues.
     */
    public static final String DELIVER_AT = "courier-deliver-at";
    /** The CloudEvents AMQP binding prefix Courier writes. */
    public static final String CLOUD_EVENTS_PREFIX = "cloudEvents:";
    /** The newer CloudEvents AMQP binding prefix, accepted when reading. */
    public static final String CLOUD_EVENTS_PREFIX_UNDERSCORE = "cloudEvents_";

    private static final String CE = "ce-";
    private static final Set<String> INTERNAL = Set.of(KEY, TIMESTAMP, ATTEMPT, DELIVER_AT);
    private static final Set<String> BROKER = Set.of("x-death", "x-delivery-count", "x-received-from",
            "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
            "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason");

    private MessageMapping() {
    }

    /**
     * The AMQP properties for {@code message}, persistent when {@code persistent}, with {@code extra}
     * headers (Courier bookkeeping) added.
     */
    public static AMQP.BasicProperties toProperties(Message message, boolean persistent, Map<String, Object> extra) {
        Map<String, Object> headers = new HashMap<>(message.headers().size() + 4);
        String contentType = null;
        String correlationId = null;
        for (Map.Entry<String, String> h : message.headers().entrySet()) {
            String name = h.getKey();
            if (name.equals(Headers.CONTENT_TYPE)) {
                contentType = h.getValue();
            } else if (name.equals(Headers.CORRELATION_ID)) {
                correlationId = h.getValue();
            } else if (name.startsWith(CE)) {
                headers.put(CLOUD_EVENTS_PREFIX + name.substring(CE.length()), h.getValue());
            } else {
                headers.put(name, h.getValue());
            }
        }
        message.key().ifPresent(k -> headers.put(KEY, k));
        headers.put(TIMESTAMP, IsoInstants.format(message.timestamp()));
        headers.putAll(extra);
        return new AMQP.BasicProperties.Builder()
                .messageId(message.id())
                .contentType(contentType)
                .correlationId(correlationId)
                .timestamp(Date.from(message.timestamp()))
                .deliveryMode(persistent ? 2 : 1)
                .headers(headers)
                .build();
    }

    /** The Courier message for a delivered AMQP message. */
    public static Message fromAmqp(AMQP.BasicProperties props, byte[] body) {
        Message.Builder b = Message.builder();
        String id = props.getMessageId();
        // a message from a foreign publisher may lack an id; Courier needs one
        b.id(id != null && !id.isBlank() ? id : "amqp-" + UUID.randomUUID());
        if (props.getContentType() != null) {
            b.header(Headers.CONTENT_TYPE, props.getContentType());
        }
        if (props.getCorrelationId() != null) {
            b.header(Headers.CORRELATION_ID, props.getCorrelationId());
        }
        Instant timestamp = props.getTimestamp() != null ? props.getTimestamp().toInstant() : null;
        Map<String, Object> headers = props.getHeaders();
        if (headers != null) {
            for (Map.Entry<String, Object> h : headers.entrySet()) {
                String name = h.getKey();
                Object value = h.getValue();
                if (value == null || BROKER.contains(name)) {
                    continue;
                }
                if (INTERNAL.contains(name)) {
                    if (name.equals(KEY)) {
                        b.key(text(value));
                    } else if (name.equals(TIMESTAMP)) {
                        try {
                            timestamp = IsoInstants.parse(text(value));
                        } catch (DateTimeParseException e) {
                            // keep the AMQP timestamp
                        }
                    }
                    continue;
                }
                if (name.startsWith(CLOUD_EVENTS_PREFIX)) {
                    b.header(CE + name.substring(CLOUD_EVENTS_PREFIX.length()), text(value));
                } else if (name.startsWith(CLOUD_EVENTS_PREFIX_UNDERSCORE)) {
                    b.header(CE + name.substring(CLOUD_EVENTS_PREFIX_UNDERSCORE.length()), text(value));
                } else {
                    b.header(name, text(value));
                }
            }
        }
        if (timestamp != null) {
            b.timestamp(timestamp);
        }
        // The delivery's body array is ours alone: the message takes it without a copy.
        return PAYLOADS.build(b, body == null ? new byte[0] : body);
    }

    /**
     * A delivery that {@link #fromAmqp} refused, as much of it as can be kept, for dead-lettering: the
     * body as it came, the AMQP message id (or a new one), content type and correlation id, and every
     * header with a name as text, except Courier's bookkeeping headers and the broker's; then
     * {@code extra}. Never throws for what a broker can deliver.
     */
    public static Message undecodable(AMQP.BasicProperties props, byte[] body, Map<String, String> extra) {
        Message.Builder b = Message.builder();
        String id = props.getMessageId();
        b.id(id != null && !id.isBlank() ? id : "amqp-" + UUID.randomUUID());
        if (props.getContentType() != null) {
            b.header(Headers.CONTENT_TYPE, props.getContentType());
        }
        if (props.getCorrelationId() != null) {
            b.header(Headers.CORRELATION_ID, props.getCorrelationId());
        }
        Map<String, Object> headers = props.getHeaders();
        if (headers != null) {
            for (Map.Entry<String, Object> h : headers.entrySet()) {
                String name = h.getKey();
                if (name != null && !name.isEmpty() && h.getValue() != null && !INTERNAL.contains(name)
                        && !BROKER.contains(name)) {
                    b.header(name, text(h.getValue()));
                }
            }
        }
        extra.forEach(b::header);
        return PAYLOADS.build(b, body == null ? new byte[0] : body);
    }

    /** The time in the {@link #DELIVER_AT} header, or null when absent or not a time. */
    public static Instant deliverAt(AMQP.BasicProperties props) {
        Map<String, Object> headers = props.getHeaders();
        Object v = headers == null ? null : headers.get(DELIVER_AT);
        if (v == null) {
            return null;
        }
        try {
            return IsoInstants.parse(text(v));
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /** The number in the {@link #ATTEMPT} header, 0 when absent or not a number. */
    public static int attemptsBefore(AMQP.BasicProperties props) {
        return intHeader(props, ATTEMPT);
    }

    /** The broker's {@code x-delivery-count} (quorum queues), or -1 when absent. */
    public static int deliveryCount(AMQP.BasicProperties props) {
        Map<String, Object> headers = props.getHeaders();
        if (headers == null || headers.get("x-delivery-count") == null) {
            return -1;
        }
        return intHeader(props, "x-delivery-count");
    }

    private static int intHeader(AMQP.BasicProperties props, String name) {
        Map<String, Object> headers = props.getHeaders();
        Object v = headers == null ? null : headers.get(name);
        if (v == null) {
            return 0;
        }
        if (v instanceof Number n) {
            return (int) Math.max(0, Math.min(Integer.MAX_VALUE, n.longValue()));
        }
        try {
            return Math.max(0, Integer.parseInt(text(v).trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static String text(Object value) {
        if (value instanceof LongString ls) {
            return new String(ls.getBytes(), StandardCharsets.UTF_8);
        }
        if (value instanceof byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        return value.toString();
    }
}
