package io.courier.spi;

import io.courier.Message;
import java.lang.invoke.MethodHandles;
import java.util.Objects;

/**
 * A message's payload array without a copy, for transports. {@link Message} copies the payload when
 * it is built and again each time {@link Message#payload()} is called, so that no caller can change a
 * message; a transport, which only hands the bytes to its client library (which writes them out
 * without changing them) or has just received them in an array of its own, does not need either copy.
 * With 1 KiB payloads the two copies on each side were a visible part of a transport's cost per
 * message (allocation, zeroing and copying of 4 KiB per message).
 *
 * <p>The rules: the array from {@link #view} must never be written to, nor kept beyond handing it to
 * the client library; the array given to {@link #build} must not be used by the caller afterwards.
 * Applications should use {@link Message#payload()} instead, and so does Courier wherever the bytes
 * reach application code (a {@link io.courier.Codec}, a handler): that code may write to its array.
 */
public final class PayloadAccess {

    /** What {@link Message} provides; installed once by its class initializer. */
    public interface Bridge {
        /** The message's own payload array. */
        byte[] payload(Message message);

        /** Builds {@code builder}'s message with {@code payload} as its payload array, not a copy of it. */
        Message build(Message.Builder builder, byte[] payload);
    }

    private static volatile Bridge bridge;

    private PayloadAccess() {
    }

    /**
     * Installs the bridge. Called once by {@link Message}'s class initializer, not by applications.
     *
     * @throws IllegalStateException when a bridge is installed already
     */
    public static synchronized void install(Bridge b) {
        if (bridge != null) {
            throw new IllegalStateException("the payload bridge is installed already");
        }
        bridge = Objects.requireNonNull(b, "bridge");
    }

    /** {@code message}'s payload array itself; never write to it. */
    public static byte[] view(Message message) {
        return bridge().payload(message);
    }

    /** Builds {@code builder}'s message with {@code payload} (not copied) as its payload; the caller gives the array up. */
    public static Message build(Message.Builder builder, byte[] payload) {
        return bridge().build(Objects.requireNonNull(builder, "builder"), Objects.requireNonNull(payload, "payload"));
    }

    private static Bridge bridge() {
        Bridge b = bridge;
        if (b == null) {
            try {
                MethodHandles.lookup().ensureInitialized(Message.class);   // its initializer installs the bridge
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
            b = bridge;
        }
        return b;
    }
}
