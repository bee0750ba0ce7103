package io.courier.redis.internal;

import io.courier.Headers;
import io.courier.Message;
import io.courier.spi.Outcome;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles handled entries of one consumer, asynchronously on the control connection: acknowledges
 * ({@code XACK} batched by {@link AckBatcher}, or by {@link KeyedAckBatcher} for an entry in a key
 * list), reschedules a retry for this group only, or dead-letters, the last two in one atomic script
 * each. Counts the settlements whose reply is not in yet, so that close can wait for them.
 * Thread-safe.
 */
final class EntrySettler {

    private static final Logger log = LoggerFactory.getLogger(EntrySettler.class);

    private final GroupStreams streams;
    private final int maxDeliveries;
    private final AckBatcher mainAcks;
    private final AckBatcher retryAcks;
    private final KeyedAckBatcher keyedAcks;
    private final AtomicInteger unconfirmed = new AtomicInteger();
    private final Object confirmed = new Object();

    EntrySettler(GroupStreams streams) {
        this.streams = streams;
        this.maxDeliveries = streams.context.config().maxDeliveries();
        this.mainAcks = new AckBatcher(streams.context.control(), streams.stream, streams.group, false);
        this.retryAcks = new AckBatcher(streams.context.control(), streams.retryStream, streams.group, true);
        this.keyedAcks = streams.context.config().keyOrdering()
                ? new KeyedAckBatcher(streams.context.control(), streams.stream, streams.retryStream, streams.group)
                : null;
    }

    /** The configured maximum of deliveries. */
    int maxDeliveries() {
        return maxDeliveries;
    }

    /**
     * Settles {@code e} as {@code outcome} says; {@code done} gets, once Redis replied (or the call
     * failed), the new head of the entry's key list when it is in one and the reply names it, else null.
     */
    void settle(RedisEntry e, Outcome outcome, Consumer<String> done) {
        Message message = e.decoded().message();
        if (outcome instanceof Outcome.Ack) {
            ack(e, done);
        } else if (outcome instanceof Outcome.Retry r) {
            if (e.attempt() >= maxDeliveries) {
                deadLetter(e, message, "max-deliveries", null, done);
            } else {
                reschedule(e, r.apply(message), r.delay(), e.decoded().firstFailure().orElse(null), done);
            }
        } else if (outcome instanceof Outcome.Failed failed) {
            if (e.attempt() >= maxDeliveries) {
                deadLetter(e, message, "max-deliveries", failed.error(), done);
            } else {
                Instant firstFailure = e.decoded().firstFailure().orElseGet(() -> streams.context.config().clock().instant());
                reschedule(e, message, failed.redeliveryDelay(), firstFailure, done);
            }
        }
    }

    /** Acknowledges {@code e} (removing it from its key list, if in one). */
    void ack(RedisEntry e, Consumer<String> done) {
        unconfirmed.incrementAndGet();
        if (e.keyList() != null) {
            keyedAcks.ack(e.tag(), e.keyList(), head -> confirmed(done, head));
        } else {
            (e.retry() ? retryAcks : mainAcks).ack(e.entryId(), () -> confirmed(done, null));
        }
    }

    /** Acknowledges an entry with nothing left to deliver (deleted by trimming while pending). */
    void ackDeleted(boolean retry, String entryId) {
        unconfirmed.incrementAndGet();
        (retry ? retryAcks : mainAcks).ack(entryId, () -> confirmed(null, null));
    }

    /** Schedules the message for this group again after {@code delay} and acks the entry, atomically. */
    void reschedule(RedisEntry e, Message message, Duration delay, Instant firstFailure, Consumer<String> done) {
        long due = streams.context.config().clock().millis() + Math.max(0, delay.toMillis());
        byte[] member = EntryCodec.member(EntryCodec.encode(message, e.attempt() + 1, firstFailure));
        unconfirmed.incrementAndGet();
        CompletableFuture<Object> settled;
        byte[] source = streams.source(e.retry());
        byte[] delete = EntryCodec.bytes(e.retry() ? "1" : "0");
        if (e.keyList() != null) {
            settled = Scripts.RESCHEDULE_KEYED.run(streams.context.control(), ScriptOutputType.MULTI,
                    new byte[][] {source, streams.retryDue, e.keyList()}, streams.group, EntryCodec.bytes(e.entryId()),
                    delete, EntryCodec.bytes(Long.toString(due)), member, EntryCodec.bytes(e.tag()));
        } else {
            settled = Scripts.RESCHEDULE.run(streams.context.control(), ScriptOutputType.INTEGER,
                    new byte[][] {source, streams.retryDue}, streams.group, EntryCodec.bytes(e.entryId()),
                    delete, EntryCodec.bytes(Long.toString(due)), member);
        }
        settled.whenComplete((reply, failure) -> {
            if (failure != null) {
                log.warn("could not schedule a retry of entry {} of topic '{}' for group '{}'; it stays pending"
                                + " and is redelivered after its lease: {}", e.entryId(), streams.options.topic(),
                        streams.options.group(), failure.toString());
            } else {
                streams.context.mover().wakeAt(due);
            }
            confirmed(done, newHead(reply));
        });
    }

    /** Copies the entry to {@code <topic>.dlq} with the reason in {@link Headers} and acks it, atomically. */
    void deadLetter(RedisEntry e, Message message, String reason, Throwable error, Consumer<String> done) {
        Instant now = streams.context.config().clock().instant();
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(Headers.ORIGINAL_TOPIC, streams.options.topic());
        headers.put(Headers.ATTEMPTS, Integer.toString(Math.min(e.attempt(), maxDeliveries)));
        headers.put(Headers.DEAD_LETTER_REASON, reason);
        headers.put(Headers.DEAD_LETTER_GROUP, streams.options.group());
        e.decoded().firstFailure().ifPresent(t -> headers.put(Headers.FIRST_FAILURE_AT, t.toString()));
        headers.put(Headers.LAST_FAILURE_AT, now.toString());
        if (error != null) {
            headers.putIfAbsent(Headers.FIRST_FAILURE_AT, now.toString());
            headers.put(Headers.EXCEPTION_CLASS, error.getClass().getName());
            String text = String.valueOf(error.getMessage());
            headers.put(Headers.EXCEPTION_MESSAGE, text.length() > 1000 ? text.substring(0, 1000) : text);
        }
        List<byte[]> fields = EntryCodec.encode(message.withHeaders(headers), 1, null);
        byte[][] trim = streams.context.trimArgs(streams.deadLetterTopic);
        List<byte[]> args = new ArrayList<>(7 + fields.size());
        args.add(streams.group);
        args.add(EntryCodec.bytes(e.entryId()));
        args.add(EntryCodec.bytes(e.retry() ? "1" : "0"));
        args.addAll(Arrays.asList(trim));
        if (e.keyList() != null) {
            args.add(EntryCodec.bytes(e.tag()));
        }
        args.addAll(fields);
        unconfirmed.incrementAndGet();
        byte[] source = streams.source(e.retry());
        byte[] deadLetters = streams.context.keys().stream(streams.deadLetterTopic);
        CompletableFuture<Object> settled = e.keyList() != null
                ? Scripts.DEAD_LETTER_KEYED.run(streams.context.control(), ScriptOutputType.MULTI,
                        new byte[][] {source, deadLetters, e.keyList()}, args.toArray(new byte[0][]))
                : Scripts.DEAD_LETTER.run(streams.context.control(), ScriptOutputType.INTEGER,
                        new byte[][] {source, deadLetters}, args.toArray(new byte[0][]));
        settled.whenComplete((reply, failure) -> {
            Long moved = reply instanceof List<?> l ? (Long) l.get(0) : (Long) reply;
            if (failure != null) {
                log.warn("could not dead-letter entry {} of topic '{}' for group '{}'; it stays pending: {}",
                        e.entryId(), streams.options.topic(), streams.options.group(), failure.toString());
            } else if (moved != null && moved == 1) {
                log.warn("dead-lettered message {} (entry {}) of topic '{}' for group '{}' to '{}' after {} attempts: {}",
                        message.id(), e.entryId(), streams.options.topic(), streams.options.group(),
                        streams.deadLetterTopic, headers.get(Headers.ATTEMPTS), reason);
            }
            confirmed(done, newHead(reply));
        });
    }

    /** The new head of the key list in a keyed settle script's reply {@code {done, head}}, or null. */
    private static String newHead(Object reply) {
        if (reply instanceof List<?> l && l.size() > 1 && l.get(1) instanceof byte[] b && b.length > 0) {
            return EntryCodec.text(b);
        }
        return null;
    }

    private void confirmed(Consumer<String> done, String head) {
        try {
            if (done != null) {
                done.accept(head);
            }
        } finally {
            if (unconfirmed.decrementAndGet() <= 0) {
                synchronized (confirmed) {
                    confirmed.notifyAll();
                }
            }
        }
    }

    /** Waits up to {@code timeout} until every settlement started so far has its reply; logs when some have not. */
    void awaitConfirmed(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (confirmed) {
            while (unconfirmed.get() > 0) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    log.warn("subscription {}/{}: {} settlements still unconfirmed at close", streams.options.topic(),
                            streams.options.group(), unconfirmed.get());
                    return;
                }
                confirmed.wait(left);
            }
        }
    }
}
