package io.courier.rabbitmq.internal;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Return;
import com.rabbitmq.client.ShutdownSignalException;
import io.courier.MessageTooLargeException;
import io.courier.PublishException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One channel in publisher-confirm mode and the messages it has published that the broker has not
 * confirmed yet, keyed by publish sequence number (the delivery tag the broker confirms).
 *
 * <p>Confirm mode and the listeners are set up once, when the channel is created; the client
 * re-enables both after a connection recovery. Only one thread at a time may call {@link #send} (the
 * {@link ChannelPool} lends the channel exclusively); the listeners run on the connection's thread.
 * When the channel closes, every message still waiting fails: after a recovery the sequence numbers
 * start again at 1, so an old confirm can never be matched to a new message. Their outcome is unknown,
 * except after RabbitMQ refused a message over its {@code max_message_size} (406): that one fails with
 * {@link MessageTooLargeException}, and those written after it, which the broker discarded, were not
 * published.
 */
final class PublisherChannel {

    private static final Logger log = LoggerFactory.getLogger(PublisherChannel.class);

    private final Channel channel;
    private final ConcurrentSkipListMap<Long, PendingConfirm> pending = new ConcurrentSkipListMap<>();
    private final Executor completions;
    private final Runnable onChannelError;
    private final Supplier<String> blockedReason;
    private final Duration confirmTimeout;
    private volatile long epoch;
    private volatile boolean dead;

    PublisherChannel(Channel channel, Executor completions, Runnable onChannelError, Supplier<String> blockedReason,
                     Duration confirmTimeout) throws IOException {
        this.channel = channel;
        this.completions = completions;
        this.onChannelError = onChannelError;
        this.blockedReason = blockedReason;
        this.confirmTimeout = confirmTimeout;
        channel.confirmSelect();
        channel.addConfirmListener((tag, multiple) -> settle(tag, multiple, true), (tag, multiple) -> settle(tag, multiple, false));
        channel.addReturnListener(this::returned);
        channel.addShutdownListener(this::closed);
    }

    /**
     * Publishes with {@code mandatory} set and registers {@code p} for its confirm. Returns false when
     * nothing was sent because the channel is closed (the caller may wait for recovery and try again);
     * true when the message was handed to the channel (its outcome arrives through {@code p.future}).
     */
    boolean send(PendingConfirm p, AMQP.BasicProperties props, byte[] body) {
        long epochBefore = epoch;
        if (!channel.isOpen()) {
            return false;
        }
        long seq = channel.getNextPublishSeqNo();
        PendingConfirm previous = pending.put(seq, p);
        if (previous != null && previous != p) {
            previous.fail(completions, new PublishException(previous.topic, "the outcome of message " + previous.messageId
                    + " to topic '" + previous.topic + "' is unknown: its channel was reset before the broker confirmed it;"
                    + " it may or may not have been stored"));
        }
        try {
            channel.basicPublish(p.exchange, p.routingKey, true, props, body);
        } catch (IOException | ShutdownSignalException e) {
            // removed by us: nothing went out, the caller may retry; removed by the shutdown listener: already failed
            return !pending.remove(seq, p);
        }
        if (epoch != epochBefore && pending.remove(seq, p)) {
            p.fail(completions, new PublishException(p.topic, "the connection to RabbitMQ was lost while message " + p.messageId
                    + " to topic '" + p.topic + "' was being published; it may or may not have been stored"));
        }
        return true;
    }

    private void settle(long tag, boolean multiple, boolean ack) {
        if (multiple) {
            List<PendingConfirm> settled = new ArrayList<>();
            Map.Entry<Long, PendingConfirm> first;
            while ((first = pending.firstEntry()) != null && first.getKey() <= tag) {
                if (pending.remove(first.getKey(), first.getValue())) {
                    settled.add(first.getValue());
                }
            }
            if (!settled.isEmpty()) {
                PendingConfirm.settle(settled, ack, completions);
            }
        } else {
            PendingConfirm p = pending.remove(tag);
            if (p != null) {
                PendingConfirm.settle(List.of(p), ack, completions);
            }
        }
    }

    private void returned(Return r) {
        String id = r.getProperties() == null ? null : r.getProperties().getMessageId();
        for (PendingConfirm p : pending.values()) {
            if (!p.returned() && p.messageId.equals(id) && p.exchange.equals(r.getExchange()) && p.routingKey.equals(r.getRoutingKey())) {
                p.markReturned("RabbitMQ returned it (" + r.getReplyCode() + " " + r.getReplyText() + ")");
                return;
            }
        }
        log.debug("returned message {} matches no outstanding publish", id);
    }

    private void closed(ShutdownSignalException cause) {
        epoch++;
        if (!cause.isHardError() && !cause.isInitiatedByApplication()) {
            // a channel-level error (e.g. a missing exchange): the client does not recover this channel
            dead = true;
            log.warn("publishing channel closed by RabbitMQ: {}", cause.getMessage());
            onChannelError.run();
        }
        String why = cause.isInitiatedByApplication() ? "the transport was closed" : describe(cause);
        SizeRefusal refusal = SizeRefusal.of(cause);
        PendingConfirm refused = null;
        Map.Entry<Long, PendingConfirm> e;
        while ((e = pending.pollFirstEntry()) != null) {
            PendingConfirm p = e.getValue();
            Throwable error;
            if (refused != null) {
                // RabbitMQ discards whatever arrives on a channel after the error that closes it.
                error = new PublishException(p.topic, "message " + p.messageId + " to topic '" + p.topic + "' was not published:"
                        + " RabbitMQ discarded it because it followed message " + refused.messageId + " on a channel the broker"
                        + " closed for that message (" + why + ")");
            } else if (refusal != null && p.bodySize == refusal.size) {
                refused = p;
                error = new MessageTooLargeException(p.topic, "message " + p.messageId + " to topic '" + p.topic + "' was refused"
                        + " as too large by RabbitMQ and not published: a payload of " + refusal.size + " bytes, over the broker's"
                        + " max_message_size of " + refusal.limit + " bytes (" + why + ")", refusal.size, refusal.limit, cause);
            } else {
                error = new PublishException(p.topic, "the channel to RabbitMQ closed before the broker confirmed message "
                        + p.messageId + " to topic '" + p.topic + "' (" + why + "); it may or may not have been stored");
            }
            p.fail(completions, error);
        }
    }

    /**
     * RabbitMQ's refusal of a message over its {@code max_message_size}: it closes the channel with
     * {@code 406 PRECONDITION_FAILED - message size <size> is larger than [configured ]max size <limit>}.
     */
    private record SizeRefusal(int size, int limit) {

        private static final Pattern TEXT = Pattern.compile("message size (\\d+) is larger than (?:configured )?max size (\\d+)");

        /** The refusal {@code cause} reports, or null when it is another kind of close. */
        static SizeRefusal of(ShutdownSignalException cause) {
            if (!(cause.getReason() instanceof AMQP.Channel.Close c) || c.getReplyCode() != AMQP.PRECONDITION_FAILED) {
                return null;
            }
            Matcher m = TEXT.matcher(c.getReplyText());
            if (!m.find()) {
                return null;
            }
            try {
                return new SizeRefusal(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
            } catch (NumberFormatException tooBig) {
                return null;
            }
        }
    }

    /** A readable reason for a shutdown: the broker's reply, or the I/O error behind a lost connection. */
    static String describe(ShutdownSignalException cause) {
        if (cause.getReason() instanceof AMQP.Connection.Close c) {
            return "connection closed by RabbitMQ: " + c.getReplyCode() + " " + c.getReplyText();
        }
        if (cause.getReason() instanceof AMQP.Channel.Close c) {
            return "channel closed by RabbitMQ: " + c.getReplyCode() + " " + c.getReplyText();
        }
        Throwable io = cause.getCause();
        return io != null ? "connection lost: " + io : cause.getMessage();
    }

    private void failAll(java.util.function.Function<PendingConfirm, Throwable> error) {
        Map.Entry<Long, PendingConfirm> e;
        while ((e = pending.pollFirstEntry()) != null) {
            e.getValue().fail(completions, error.apply(e.getValue()));
        }
    }

    /** Fails every message whose confirm is overdue. Called periodically. */
    void expire(long nowNanos) {
        for (Map.Entry<Long, PendingConfirm> e : pending.entrySet()) {
            PendingConfirm p = e.getValue();
            if (p.deadlineNanos - nowNanos > 0) {
                // deadlines grow with sequence numbers (one thread at a time publishes here), so no later one is due
                break;
            }
            if (pending.remove(e.getKey(), p)) {
                String blocked = blockedReason.get();
                p.fail(completions, new PublishException(p.topic, "RabbitMQ did not confirm message " + p.messageId + " to topic '"
                        + p.topic + "' within " + confirmTimeout + " (publishConfirmTimeout)"
                        + (blocked != null ? "; the broker is blocking publishers: " + blocked : "")
                        + "; it may or may not have been stored"));
            }
        }
    }

    /** Messages published on this channel and not confirmed yet. */
    int outstanding() {
        return pending.size();
    }

    /** True when the broker closed this channel with a channel-level error; it must be replaced. */
    boolean dead() {
        return dead || (!channel.isOpen() && channel.getConnection().isOpen() && channel.getCloseReason() != null
                && !channel.getCloseReason().isHardError());
    }

    /** Closes the channel; messages still waiting fail. */
    void close() {
        try {
            // also on a closed channel: close() unregisters it from the recovering connection
            channel.close();
        } catch (IOException | TimeoutException | ShutdownSignalException e) {
            log.trace("closing publishing channel", e);
        }
        failAll(p -> new PublishException(p.topic, "the publisher was closed before RabbitMQ confirmed message " + p.messageId
                + " to topic '" + p.topic + "'; it may or may not have been stored"));
    }
}
