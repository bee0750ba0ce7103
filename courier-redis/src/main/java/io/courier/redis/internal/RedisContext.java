package io.courier.redis.internal;

import io.courier.CourierException;
import io.courier.redis.RedisConfig;
import io.courier.redis.StreamTrim;
import io.lettuce.core.XAddArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;

/**
 * What the parts of one transport share: the configuration, key names, the Lettuce client and its
 * two multiplexed connections, and the mover of due messages.
 *
 * <p>The <em>control</em> connection carries acknowledgements, scripts, claims and group management;
 * the <em>publishing</em> connection carries {@code XADD}, {@code ZADD} and {@code WAIT} (kept apart
 * so a {@code WAIT} never holds up acknowledgements). Both are thread-safe and reconnect by
 * themselves; commands issued while disconnected are queued until the connection is back or the
 * command timeout passes. Blocking reads get a connection of their own per subscription
 * ({@link #openReader()}).
 */
public final class RedisContext implements AutoCloseable {

    private final RedisConfig config;
    private final Keys keys;
    private final RedisConnector connector;
    private final StatefulRedisConnection<byte[], byte[]> control;
    private final StatefulRedisConnection<byte[], byte[]> publishing;
    private final DueMover mover;

    /** Connects to Redis as {@code config} says; throws {@link CourierException} when it cannot. */
    public RedisContext(RedisConfig config) {
        this.config = config;
        this.keys = new Keys(config.keyPrefix());
        this.connector = new RedisConnector(config);
        try {
            this.control = connector.connect();
            this.publishing = connector.connect();
        } catch (CourierException e) {
            connector.close();
            throw e;
        }
        this.mover = new DueMover(this);
    }

    /** The configuration. */
    public RedisConfig config() {
        return config;
    }

    /** The key names. */
    public Keys keys() {
        return keys;
    }

    /** Async commands on the control connection. */
    public RedisAsyncCommands<byte[], byte[]> control() {
        return control.async();
    }

    /** The control connection. */
    public StatefulRedisConnection<byte[], byte[]> controlConnection() {
        return control;
    }

    /** The publishing connection. */
    public StatefulRedisConnection<byte[], byte[]> publishing() {
        return publishing;
    }

    /** The mover of due delayed messages and retries. */
    public DueMover mover() {
        return mover;
    }

    /** A new connection for one subscription's blocking reads; the caller closes it. */
    public StatefulRedisConnection<byte[], byte[]> openReader() {
        return connector.client().connect(ByteArrayCodec.INSTANCE);
    }

    /** {@code XADD} arguments that trim as configured for {@code topic}. */
    public XAddArgs xaddArgs(String topic) {
        XAddArgs args = new XAddArgs();
        StreamTrim trim = config.trimFor(topic);
        switch (trim.mode()) {
            case MAX_LENGTH -> args.maxlen(trim.maxLength()).approximateTrimming(trim.approximate());
            case MAX_AGE -> args.minId(minId(trim)).approximateTrimming(trim.approximate());
            case NONE -> {
            }
        }
        return args;
    }

    /** The trimming of {@code topic} as three script arguments: mode, operator, threshold. */
    public byte[][] trimArgs(String topic) {
        StreamTrim trim = topic == null ? StreamTrim.none() : config.trimFor(topic);
        String op = trim.approximate() ? "~" : "=";
        return switch (trim.mode()) {
            case NONE -> new byte[][] {EntryCodec.bytes(""), EntryCodec.bytes(op), EntryCodec.bytes("0")};
            case MAX_LENGTH -> new byte[][] {EntryCodec.bytes("MAXLEN"), EntryCodec.bytes(op),
                    EntryCodec.bytes(Long.toString(trim.maxLength()))};
            case MAX_AGE -> new byte[][] {EntryCodec.bytes("MINID"), EntryCodec.bytes(op), EntryCodec.bytes(minId(trim))};
        };
    }

    private String minId(StreamTrim trim) {
        return Math.max(0, config.clock().millis() - trim.maxAge().toMillis()) + "-0";
    }

    /** Stops the mover, then closes the connections and the client. */
    @Override
    public void close() {
        mover.close();
        closeQuietly(publishing);
        closeQuietly(control);
        connector.close();
    }

    private static void closeQuietly(StatefulRedisConnection<?, ?> c) {
        try {
            c.close();
        } catch (RuntimeException e) {
            // closing a broken connection may fail; nothing is left to release
        }
    }
}
