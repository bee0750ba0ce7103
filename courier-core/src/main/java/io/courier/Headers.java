package io.courier;

/**
 * Names of the headers Courier itself reads or writes.
 *
 * <p>Names follow the CloudEvents conventions where one exists ({@code ce-*} attributes in binary
 * mode), so other tools can read Courier messages. Courier's own bookkeeping headers start with
 * {@code courier-}. Transports map these names onto native properties where the broker has one
 * (an AMQP {@code message-id}, a Kafka record header, ...).
 */
public final class Headers {

    /** Media type of the payload, e.g. {@code application/json}. */
    public static final String CONTENT_TYPE = "content-type";
    /** CloudEvents {@code type}: the logical type of the payload, e.g. {@code order.created}. */
    public static final String EVENT_TYPE = "ce-type";
    /** CloudEvents {@code source}. */
    public static final String EVENT_SOURCE = "ce-source";
    /** Correlation id, propagated from the message being handled to the messages it causes. */
    public static final String CORRELATION_ID = "correlation-id";
    /** W3C trace context. */
    public static final String TRACEPARENT = "traceparent";

    /** Topic the message was first published to (set on retries and dead letters). */
    public static final String ORIGINAL_TOPIC = "courier-original-topic";
    /** Number of delivery attempts made before the message was dead-lettered. */
    public static final String ATTEMPTS = "courier-attempts";
    /** When handling first failed (ISO-8601). */
    public static final String FIRST_FAILURE_AT = "courier-first-failure-at";
    /** When handling last failed (ISO-8601). */
    public static final String LAST_FAILURE_AT = "courier-last-failure-at";
    /** Class name of the last exception thrown by the handler. */
    public static final String EXCEPTION_CLASS = "courier-exception-class";
    /** Message of the last exception thrown by the handler (truncated to 1,000 characters). */
    public static final String EXCEPTION_MESSAGE = "courier-exception-message";
    /** Why the message was dead-lettered: {@code max-attempts}, {@code non-retryable}, ... */
    public static final String DEAD_LETTER_REASON = "courier-dead-letter-reason";
    /** Consumer group whose handler dead-lettered the message. */
    public static final String DEAD_LETTER_GROUP = "courier-dead-letter-group";

    private Headers() {
    }
}
