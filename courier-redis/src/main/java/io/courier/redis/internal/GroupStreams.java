package io.courier.redis.internal;

import io.courier.CourierException;
import io.courier.SubscriptionOptions;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XPendingArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.models.stream.PendingMessage;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis names and group-level commands of one consumer of one group on one topic: the topic
 * stream, the group's retry stream and retry schedule, the topic's delay schedule; creating the
 * groups, delivery counts from {@code XPENDING}, removal of idle consumers. Shared by the plain and
 * the key-ordered sources. Thread-safe (it holds no mutable state).
 */
final class GroupStreams {

    private static final Logger log = LoggerFactory.getLogger(GroupStreams.class);

    final RedisContext context;
    final SubscriptionOptions options;
    final String consumerName;
    final byte[] consumerNameBytes;
    final byte[] group;
    final Consumer<byte[]> consumer;
    final byte[] stream;
    final byte[] retryStream;
    final byte[] retryDue;
    final byte[] delayed;
    final String deadLetterTopic;

    GroupStreams(RedisContext context, SubscriptionOptions options, String consumerName) {
        this.context = context;
        this.options = options;
        this.consumerName = consumerName;
        this.consumerNameBytes = EntryCodec.bytes(consumerName);
        this.group = EntryCodec.bytes(options.group());
        this.consumer = Consumer.from(group, consumerNameBytes);
        Keys keys = context.keys();
        this.stream = keys.stream(options.topic());
        this.retryStream = keys.retryStream(options.topic(), options.group());
        this.retryDue = keys.retryDue(options.topic(), options.group());
        this.delayed = keys.delayed(options.topic());
        this.deadLetterTopic = Keys.deadLetterTopic(options.topic());
    }

    /** The stream an entry is on: the group's retry stream or the topic stream. */
    byte[] source(boolean retry) {
        return retry ? retryStream : stream;
    }

    /** Creates the group on the topic stream (at {@code mainOffset}) and on the retry stream, idempotently. */
    void createGroups(String mainOffset) {
        createGroup(stream, mainOffset);
        createGroup(retryStream, "0");
    }

    private void createGroup(byte[] key, String offset) {
        try {
            await(context.control().xgroupCreate(XReadArgs.StreamOffset.from(key, offset), group,
                    new XGroupCreateArgs().mkstream(true)).toCompletableFuture());
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            // Redis answers "BUSYGROUP <text>" when the group exists: compare the error code, not the text.
            if (!"BUSYGROUP".equals(RedisSubscription.errorCode(e))) {
                throw new CourierException("cannot create consumer group '" + options.group() + "' on "
                        + EntryCodec.text(key) + ": " + rootMessage(e), e);
            }
        }
    }

    /** Delivery counts of {@code entries} (all owned by this consumer) from {@code XPENDING}'s extended form. */
    Map<String, Long> deliveryCounts(byte[] key, List<StreamMessage<byte[], byte[]>> entries)
            throws InterruptedException, ExecutionException, TimeoutException {
        String first = entries.get(0).getId();
        String last = entries.get(entries.size() - 1).getId();
        long limit = entries.size() + (long) options.maxInFlight() + 16;
        List<PendingMessage> pending = await(context.control().xpending(key,
                XPendingArgs.Builder.xpending(consumer, Range.create(first, last), Limit.from(limit))).toCompletableFuture());
        Map<String, Long> counts = new HashMap<>();
        for (PendingMessage p : pending) {
            counts.put(p.getId(), p.getRedeliveryCount());
        }
        return counts;
    }

    /** Entries of {@code key} pending for this consumer (up to 1,000). */
    List<PendingMessage> ownPending(byte[] key) throws InterruptedException, ExecutionException, TimeoutException {
        return await(context.control().xpending(key,
                XPendingArgs.Builder.xpending(consumer, Range.create("-", "+"), Limit.from(1000))).toCompletableFuture());
    }

    /** Removes the group's consumers idle longer than configured that own no pending entry; logs failures at DEBUG. */
    void removeIdleConsumers() {
        for (byte[] key : new byte[][] {stream, retryStream}) {
            try {
                Long removed = await(Scripts.REMOVE_IDLE_CONSUMERS.<Long>run(context.control(), ScriptOutputType.INTEGER,
                        new byte[][] {key}, group,
                        EntryCodec.bytes(Long.toString(context.config().idleConsumerRemoval().toMillis())),
                        consumerNameBytes));
                if (removed != null && removed > 0) {
                    log.info("removed {} idle consumer(s) owning no pending entry from group '{}' of {}", removed,
                            options.group(), EntryCodec.text(key));
                }
            } catch (Exception e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                    return;
                }
                log.debug("removing idle consumers of {} failed: {}", EntryCodec.text(key), e.toString());
            }
        }
    }

    /** Waits for a command on the control connection, twice its timeout at most. */
    <T> T await(CompletableFuture<T> f) throws InterruptedException, ExecutionException, TimeoutException {
        return f.get(context.config().commandTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
    }

    /** The lease timeout as milliseconds, at least 1. */
    long leaseMillis() {
        return Math.max(1, options.leaseTimeout().toMillis());
    }

    /** How often idle consumers are looked for: the claim interval, or more seldom, at most every 10 minutes. */
    Duration cleanupInterval() {
        Duration claim = context.config().claimInterval();
        Duration idle = context.config().idleConsumerRemoval();
        Duration capped = idle.compareTo(Duration.ofMinutes(10)) < 0 ? idle : Duration.ofMinutes(10);
        return capped.compareTo(claim) > 0 ? capped : claim;
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
