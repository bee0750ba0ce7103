package io.courier.rabbitmq.internal;

import com.rabbitmq.client.Channel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;

/**
 * Delayed delivery on plain RabbitMQ, without plugins and without head-of-line blocking.
 *
 * <p>There are {@value #LEVELS} levels. Level {@code k} is a durable {@code topic} exchange and a
 * durable classic queue of the same name whose fixed {@code x-message-ttl} is {@code 100 ms * 2^k}
 * (100 ms up to about 39 days). Because every message in a level queue has the same TTL, messages
 * expire in the order they arrived: a long delay can never sit in front of a short one.
 *
 * <p>A delay, less a {@link #LEAD} of 50 ms, is rounded down to whole 100 ms ticks and written in binary
 * into the routing key, one word per level from the highest to level 0, followed by a destination
 * token: {@code 0.0.….1.0.1.0.<token>}. The exchange of level {@code k} routes a message whose bit {@code k}
 * is 1 into its queue, and one whose bit is 0 straight on to the exchange of level {@code k-1}
 * (exchange-to-exchange binding). When a message expires from queue {@code k} the broker dead-letters
 * it to exchange {@code k-1} with its routing key unchanged, so it waits in exactly the levels whose
 * bits are set, each once, and then reaches the {@code <prefix>.deliver} exchange. There a binding
 * per destination token ({@code *.*.….*.<token>}) routes it to its destination: a consumer group's
 * queue (retries) or a topic's release queue (a TTL-0 queue that dead-letters into the topic's
 * exchange with the topic's routing key, so every group of the topic receives it).
 *
 * <p>The broker does all of this: no Courier process needs to be running while messages wait. The
 * longest delay is {@code (2^26 - 1) * 100 ms + 50 ms}, about 77 days.
 *
 * <p>Because of the lead and the rounding down, a delayed message reaches its consumer queue up to
 * {@link #MAX_HOLD} (150 ms) before it is due, and still before due when the ladder's own latency (a
 * few milliseconds per level) is added; a delay under {@link #MAX_HOLD} skips the ladder. The message
 * carries its exact due time in the {@link MessageMapping#DELIVER_AT} header, and the consumer holds it,
 * unacknowledged, until then ({@link #holdUntil(Instant, Instant)}): delivery is within milliseconds
 * of due, never before.
 */
public final class DelayLadder {

    /** The ladder's resolution: the ladder part of a delay is rounded down to a multiple of this. */
    public static final Duration TICK = Duration.ofMillis(100);
    /**
     * How much earlier than due the ladder aims to hand a message over at the least, so that its own
     * latency (expiry and dead-lettering, a few milliseconds per level) does not make it late.
     */
    public static final Duration LEAD = Duration.ofMillis(50);
    /** The longest a consumer holds a message that arrived before it is due: {@link #TICK} plus {@link #LEAD}. */
    public static final Duration MAX_HOLD = TICK.plus(LEAD);
    /** Number of levels (queues) in the ladder. */
    public static final int LEVELS = 26;
    /** The longest delay the ladder can express. */
    public static final Duration MAX_DELAY = TICK.multipliedBy((1L << LEVELS) - 1).plus(LEAD);

    private final String prefix;

    /** A ladder whose exchanges and queues are named {@code <prefix>.L00} ... and {@code <prefix>.deliver}. */
    public DelayLadder(String prefix) {
        this.prefix = prefix;
    }

    /**
     * Where to publish a message delayed by {@code delay} to the destination {@code token}.
     *
     * @param exchange   the level exchange to publish to
     * @param routingKey the routing key encoding the delay and the destination
     * @param delay      the delay the message waits in the ladder: {@code delay - LEAD} rounded down to whole ticks
     */
    public record Hop(String exchange, String routingKey, Duration delay) {
    }

    /**
     * The hop for {@code delay} to {@code token}, or null when the delay is shorter than
     * {@link #MAX_HOLD} (publish directly; the consumer holds the message until due).
     *
     * @throws IllegalArgumentException when the delay exceeds {@link #MAX_DELAY}
     */
    public Hop route(Duration delay, String token) {
        if (delay.isNegative() || delay.isZero()) {
            return null;
        }
        if (delay.compareTo(MAX_DELAY) > 0) {
            throw new IllegalArgumentException("delay must be at most " + MAX_DELAY + " on RabbitMQ, but was " + delay);
        }
        long tickNanos = TICK.toNanos();
        long ticks = (delay.toNanos() - LEAD.toNanos()) / tickNanos;
        if (ticks <= 0) {
            return null;
        }
        int highest = 63 - Long.numberOfLeadingZeros(ticks);
        StringBuilder key = new StringBuilder(LEVELS * 2 + token.length());
        for (int level = LEVELS - 1; level >= 0; level--) {
            key.append((ticks >>> level & 1L) == 1L ? '1' : '0').append('.');
        }
        key.append(token);
        return new Hop(levelName(highest), key.toString(), TICK.multipliedBy(ticks));
    }

    /**
     * Until when a consumer must hold a message that is due at {@code due} and was received at
     * {@code now}: {@code due}, but never more than {@link #MAX_HOLD} after {@code now} (the ladder
     * delivers at most that early; a longer wait can only come from a publisher whose clock is ahead,
     * and is not worth holding the message for). Null when nothing is to be held: {@code due} is null
     * or not after {@code now}.
     */
    public static Instant holdUntil(Instant due, Instant now) {
        if (due == null || !due.isAfter(now)) {
            return null;
        }
        Instant latest = now.plus(MAX_HOLD);
        return due.isAfter(latest) ? latest : due;
    }

    /** Name of the exchange and the queue of {@code level}. */
    public String levelName(int level) {
        return prefix + ".L" + (level < 10 ? "0" : "") + level;
    }

    /** The exchange at the bottom of the ladder, which routes by destination token. */
    public String deliverExchange() {
        return prefix + ".deliver";
    }

    /** The TTL-0 queue that releases delayed messages of {@code topic} into its exchange. */
    public String releaseQueue(String topic) {
        return prefix + ".release." + topic;
    }

    /** The TTL-0 queue that releases delayed messages of partition {@code partition} of {@code topic} (key-ordered mode). */
    public String releaseQueue(String topic, int partition) {
        return releaseQueue(topic) + ".p" + partition;
    }

    /** The binding key on {@link #deliverExchange()} that matches exactly {@code token}. */
    public String deliveryBindingKey(String token) {
        return "*.".repeat(LEVELS) + token;
    }

    /** The destination token of a consumer group's queue (used by retries). */
    public static String queueToken(String queue) {
        return token("q-", queue);
    }

    /** The destination token of a topic (used by delayed publishes). */
    public static String topicToken(String topic) {
        return token("t-", topic);
    }

    /** The destination token of one partition of a topic (used by delayed publishes in key-ordered mode). */
    public static String topicPartitionToken(String topic, int partition) {
        return token("t" + partition + "-", topic);
    }

    /**
     * One topic-exchange word (no dots, no wildcards) that identifies {@code name}: readable where the
     * name allows, made unique by a hash.
     */
    static String token(String kind, String name) {
        StringBuilder readable = new StringBuilder(kind);
        for (int i = 0; i < name.length() && readable.length() < 80; i++) {
            char c = name.charAt(i);
            readable.append(Character.isLetterOrDigit(c) && c < 128 || c == '-' || c == '_' ? c : '_');
        }
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
            return readable.append('-').append(HexFormat.of().formatHex(hash, 0, 6)).toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
        }
    }

    /** Declares the ladder (idempotent): every level exchange and queue, the deliver exchange, the bindings. */
    public void declare(Channel channel) throws IOException {
        channel.exchangeDeclare(deliverExchange(), "topic", true, false, null);
        for (int level = 0; level < LEVELS; level++) {
            channel.exchangeDeclare(levelName(level), "topic", true, false, null);
        }
        for (int level = 0; level < LEVELS; level++) {
            String next = level == 0 ? deliverExchange() : levelName(level - 1);
            Map<String, Object> args = Map.of(
                    "x-message-ttl", TICK.toMillis() << level,
                    "x-dead-letter-exchange", next);
            channel.queueDeclare(levelName(level), true, false, false, args);
            String skip = "*.".repeat(LEVELS - 1 - level);
            channel.queueBind(levelName(level), levelName(level), skip + "1.#");
            channel.exchangeBind(next, levelName(level), skip + "0.#");
        }
    }
}
