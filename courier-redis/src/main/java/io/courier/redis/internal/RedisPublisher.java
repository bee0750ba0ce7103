package io.courier.redis.internal;

import io.courier.BatchPublishException;
import io.courier.DelayedPublisher;
import io.courier.Message;
import io.courier.PublishException;
import io.courier.PublishRefusedException;
import io.courier.PublishResult;
import io.courier.TransportClosedException;
import io.courier.spi.Payloads;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.XAddArgs;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * The Redis Streams publisher: {@code XADD} for immediate messages (pipelined for batches),
 * {@code ZADD} into the topic's delayed set for later ones, and an optional {@code WAIT} for
 * replicas. Thread-safe; never blocks on I/O.
 */
public final class RedisPublisher implements DelayedPublisher {

    /** Error replies after which the same command may well succeed later (memory, replication, a failover). */
    private static final Pattern TRANSIENT_ERRORS = Pattern.compile(
            "(OOM|READONLY|LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MOVED|ASK|MISCONF)\\b");

    /**
     * Header naming the stream entry id to use instead of a server-generated one (e.g.
     * {@code 1700000000000-0}); it is consumed by the publisher and not stored.
     */
    public static final String ENTRY_ID_HEADER = "courier-redis-entry-id";

    private final RedisContext context;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Object drained = new Object();
    private final java.util.Set<String> delayedTopics = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.Map<String, byte[]> streamKeys = new java.util.concurrent.ConcurrentHashMap<>();

    /** A publisher sharing {@code context}. */
    public RedisPublisher(RedisContext context) {
        this.context = context;
    }

    @Override
    public CompletableFuture<PublishResult> publish(String topic, Message message) {
        check(topic, message);
        Prepared p = prepare(topic, message);
        CompletableFuture<String> xadd = context.publishing().async()
                .xadd(p.stream, p.args, (Object[]) p.fields).toCompletableFuture();
        return track(afterWait(xadd, 1).handle((entryId, error) -> {
            if (error != null) {
                throw failure(topic, message.id(), error);
            }
            return PublishResult.of(message.id(), topic, entryId);
        }));
    }

    @Override
    public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
        Payloads.checkTopic(topic);
        Keys.checkTopic(topic);
        Objects.requireNonNull(messages, "messages");
        ensureOpen();
        if (messages.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        int limit = context.config().maxPayloadBytes();
        for (Message m : messages) {
            Objects.requireNonNull(m, "message");
            Payloads.checkSize(topic, m, limit);
        }
        // One write and flush for the whole batch: the commands are pipelined, each with its own reply.
        // Key and XADD arguments are the same for every message of the batch (unless one names its entry id).
        byte[] stream = streamKey(topic);
        XAddArgs batchArgs = context.xaddArgs(topic);
        List<AsyncCommand<byte[], byte[], String>> commands = new ArrayList<>(messages.size());
        for (Message m : messages) {
            XAddArgs xaddArgs = batchArgs;
            Message stored = m;
            String entryId = m.headers().isEmpty() ? null : m.headers().get(ENTRY_ID_HEADER);
            if (entryId != null) {
                xaddArgs = context.xaddArgs(topic).id(entryId);
                stored = m.toBuilder().removeHeader(ENTRY_ID_HEADER).build();
            }
            CommandArgs<byte[], byte[]> args = new CommandArgs<>(ByteArrayCodec.INSTANCE).addKey(stream);
            xaddArgs.build(args);
            List<byte[]> fields = EntryCodec.encode(stored, 1, null);
            for (int i = 0; i < fields.size(); i += 2) {
                args.addKey(fields.get(i)).addValue(fields.get(i + 1));
            }
            commands.add(new AsyncCommand<>(new Command<>(CommandType.XADD, new StatusOutput<>(ByteArrayCodec.INSTANCE), args)));
        }
        context.publishing().dispatch(commands);
        CompletableFuture<?>[] all = commands.toArray(new CompletableFuture<?>[0]);
        CompletableFuture<Void> stored = CompletableFuture.allOf(all).handle((v, e) -> null);
        CompletableFuture<Void> replicated = context.config().waitReplicas() > 0
                ? stored.thenCompose(v -> waitForReplicas(messages.size())) : stored;
        return track(replicated.handle((v, waitError) -> {
            List<PublishResult> results = new ArrayList<>(messages.size());
            boolean failed = waitError != null;
            for (int i = 0; i < messages.size() && !failed; i++) {
                AsyncCommand<byte[], byte[], String> c = commands.get(i);
                if (c.isCompletedExceptionally() || c.isCancelled()) {
                    failed = true;
                } else {
                    results.add(PublishResult.of(messages.get(i).id(), topic, c.join()));
                }
            }
            if (!failed) {
                return java.util.Collections.unmodifiableList(results);
            }
            // Some failed: say per message which were stored and which were not.
            List<BatchPublishException.Outcome> outcomes = new ArrayList<>(messages.size());
            for (int i = 0; i < messages.size(); i++) {
                String id = messages.get(i).id();
                AsyncCommand<byte[], byte[], String> c = commands.get(i);
                Throwable error = waitError;
                String entryId = null;
                try {
                    entryId = c.join();
                } catch (CompletionException | java.util.concurrent.CancellationException e) {
                    error = e.getCause() != null ? e.getCause() : e;
                }
                if (error == null) {
                    outcomes.add(BatchPublishException.Outcome.published(PublishResult.of(id, topic, entryId)));
                } else {
                    outcomes.add(BatchPublishException.Outcome.failed(id, publishFailure(topic, id, error)));
                }
            }
            throw new CompletionException(new BatchPublishException(topic, outcomes));
        }));
    }

    @Override
    public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
        Objects.requireNonNull(deliverAt, "deliverAt");
        check(topic, message);
        long dueMillis = deliverAt.toEpochMilli();
        if (dueMillis <= context.config().clock().millis()) {
            return publish(topic, message);
        }
        if (message.headers().containsKey(ENTRY_ID_HEADER)) {
            throw new IllegalArgumentException("header " + ENTRY_ID_HEADER + " cannot be used with delayed delivery");
        }
        byte[] zset = context.keys().delayed(topic);
        if (delayedTopics.add(topic)) {
            context.mover().register(zset, context.keys().stream(topic), topic);
        }
        List<byte[]> fields = EntryCodec.encode(message, 1, null);
        CompletableFuture<Long> zadd = context.publishing().async()
                .zadd(zset, (double) dueMillis, EntryCodec.member(fields)).toCompletableFuture();
        return track(afterWait(zadd, 1).handle((added, error) -> {
            if (error != null) {
                throw failure(topic, message.id(), error);
            }
            context.mover().wakeAt(dueMillis);
            return PublishResult.of(message.id(), topic);
        }));
    }

    private record Prepared(byte[] stream, XAddArgs args, byte[][] fields) {
    }

    /** The {@code XADD} of one message: the entry id it names in {@link #ENTRY_ID_HEADER} is used, not stored. */
    private Prepared prepare(String topic, Message message) {
        XAddArgs args = context.xaddArgs(topic);
        Message stored = message;
        String entryId = message.headers().get(ENTRY_ID_HEADER);
        if (entryId != null) {
            args.id(entryId);
            stored = message.toBuilder().removeHeader(ENTRY_ID_HEADER).build();
        }
        return new Prepared(streamKey(topic), args, EntryCodec.encode(stored, 1, null).toArray(new byte[0][]));
    }

    /** The stream key of {@code topic}, computed once per topic (for the first 1024 topics). */
    private byte[] streamKey(String topic) {
        byte[] key = streamKeys.get(topic);
        if (key == null) {
            key = context.keys().stream(topic);
            if (streamKeys.size() < 1024) {
                streamKeys.put(topic, key);
            }
        }
        return key;
    }

    private void check(String topic, Message message) {
        Payloads.checkTopic(topic);
        Keys.checkTopic(topic);
        Objects.requireNonNull(message, "message");
        ensureOpen();
        Payloads.checkSize(topic, message, context.config().maxPayloadBytes());
    }

    private <T> CompletableFuture<T> afterWait(CompletableFuture<T> write, int messages) {
        if (context.config().waitReplicas() == 0) {
            return write;
        }
        return write.thenCompose(value -> waitForReplicas(messages).thenApply(v -> value));
    }

    private CompletableFuture<Void> waitForReplicas(int messages) {
        int wanted = context.config().waitReplicas();
        long timeout = context.config().waitTimeout().toMillis();
        return context.publishing().async().waitForReplication(wanted, timeout).toCompletableFuture()
                .thenAccept(acked -> {
                    if (acked < wanted) {
                        throw new CompletionException(new PublishException(null,
                                "stored on the primary but acknowledged by " + acked + " of " + wanted
                                        + " replica(s) within " + context.config().waitTimeout()
                                        + (messages > 1 ? " (" + messages + " messages)" : "")
                                        + "; it may be lost if the primary fails now"));
                    }
                });
    }

    private static CompletionException failure(String topic, String messageId, Throwable error) {
        return new CompletionException(publishFailure(topic, messageId, error));
    }

    private static PublishException publishFailure(String topic, String messageId, Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof PublishException pe && pe.topic() != null) {
            return pe;
        }
        String why = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        if (cause instanceof PublishException) {
            // WAIT: stored on the primary, too few replicas acknowledged
            return new PublishException(topic, "message " + messageId + " to topic '" + topic + "' was " + why, cause);
        }
        if (cause instanceof RedisCommandExecutionException) {
            // Redis answered with an error: it did not run the command. Some errors pass (memory, a failover).
            if (!TRANSIENT_ERRORS.matcher(why).lookingAt()) {
                return new PublishRefusedException(topic, "message " + messageId + " to topic '" + topic
                        + "' was not published: Redis refused it: " + why, cause);
            }
            return new PublishException(topic, "message " + messageId + " to topic '" + topic
                    + "' was not published: Redis refused it: " + why, cause);
        }
        // A timeout or a lost connection: the command may have reached Redis, which then ran it.
        return new PublishException(topic, "the outcome of message " + messageId + " to topic '" + topic
                + "' is unknown (" + why + "); it may or may not have been stored", cause);
    }

    private <T> CompletableFuture<T> track(CompletableFuture<T> f) {
        inFlight.incrementAndGet();
        return f.whenComplete((r, e) -> {
            if (inFlight.decrementAndGet() == 0) {
                synchronized (drained) {
                    drained.notifyAll();
                }
            }
        });
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new TransportClosedException("Redis transport is closed: publisher refuses new messages");
        }
    }

    /** Refuses new publishes and waits up to {@code timeoutMillis} for those in flight. */
    public void close(long timeoutMillis) {
        closed.set(true);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (drained) {
            while (inFlight.get() > 0) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return;
                }
                try {
                    drained.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
