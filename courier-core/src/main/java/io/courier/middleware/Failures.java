package io.courier.middleware;

import io.courier.Delivery;
import io.courier.Headers;
import io.courier.Message;
import io.courier.NonRetryableException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.UndeclaredThrowableException;
import java.time.Instant;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Classifying and describing handler failures; shared by the middleware of this package. */
final class Failures {

    /** Longest exception message copied into {@link Headers#EXCEPTION_MESSAGE}. */
    static final int MAX_EXCEPTION_MESSAGE_LENGTH = 1000;

    /** Cause chains deeper than this are not followed (they are cyclic or pathological). */
    private static final int MAX_CAUSE_DEPTH = 64;

    private Failures() {
    }

    /**
     * Strips exceptions that only carry another one across a thread or reflection boundary
     * ({@link CompletionException}, {@link ExecutionException}, {@link InvocationTargetException},
     * {@link UndeclaredThrowableException}) and returns what they carry.
     */
    static Throwable unwrap(Throwable error) {
        Throwable t = error;
        for (int depth = 0; depth < MAX_CAUSE_DEPTH && isCarrier(t) && t.getCause() != null; depth++) {
            t = t.getCause();
        }
        return t;
    }

    private static boolean isCarrier(Throwable t) {
        return t instanceof CompletionException || t instanceof ExecutionException
                || t instanceof InvocationTargetException || t instanceof UndeclaredThrowableException;
    }

    /**
     * True when {@code error} or any exception in its cause chain is a {@link NonRetryableException}:
     * a {@code DecodingException} wrapped in an application exception still cannot succeed on retry.
     */
    static boolean isNonRetryable(Throwable error) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Throwable t = error; t != null && seen.add(t) && seen.size() <= MAX_CAUSE_DEPTH; t = t.getCause()) {
            if (t instanceof NonRetryableException) {
                return true;
            }
        }
        return false;
    }

    /** True when the failure is an interruption (the consumer is shutting down), not a handler bug. */
    static boolean isInterruption(Throwable error) {
        return unwrap(error) instanceof InterruptedException;
    }

    /**
     * The headers that record a failure on a message: {@link Headers#FIRST_FAILURE_AT} (kept when the
     * message already has it), {@link Headers#LAST_FAILURE_AT}, {@link Headers#EXCEPTION_CLASS} and
     * {@link Headers#EXCEPTION_MESSAGE} (truncated; empty when the
     * exception has no message), and {@link Headers#ORIGINAL_TOPIC} (kept when present).
     */
    static Map<String, String> failureHeaders(Delivery delivery, Throwable error, Instant now) {
        Message message = delivery.message();
        Throwable reported = unwrap(error);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(Headers.ORIGINAL_TOPIC, message.header(Headers.ORIGINAL_TOPIC).orElse(delivery.topic()));
        headers.put(Headers.FIRST_FAILURE_AT, message.header(Headers.FIRST_FAILURE_AT).orElse(now.toString()));
        headers.put(Headers.LAST_FAILURE_AT, now.toString());
        headers.put(Headers.EXCEPTION_CLASS, reported.getClass().getName());
        String text = reported.getMessage() == null ? "" : reported.getMessage();
        headers.put(Headers.EXCEPTION_MESSAGE, truncate(text, MAX_EXCEPTION_MESSAGE_LENGTH));
        return headers;
    }

    /** {@code text} cut to at most {@code max} characters, never splitting a surrogate pair. */
    static String truncate(String text, int max) {
        if (text.length() <= max) {
            return text;
        }
        int end = Character.isHighSurrogate(text.charAt(max - 1)) ? max - 1 : max;
        return text.substring(0, end);
    }

    /** "message 42 from topic 'orders' (group 'billing', attempt 3)": for exception messages and logs. */
    static String describe(Delivery delivery) {
        return "message " + delivery.message().id() + " from topic '" + delivery.topic() + "' (group '"
                + delivery.group() + "', attempt " + delivery.attempt() + ")";
    }
}
