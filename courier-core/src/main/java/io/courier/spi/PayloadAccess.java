package io.courier.spi;

import io.courier.Message;
import java.lang.invoke.MethodHandles;
import java.util.Objects;

/**
 * A message's payload array without a copy, for Courier's own transports; <b>not API</b>.
 * {@link Message} copies the payload when it is built and again each time {@link Message#payload()}
 * is called, so that no caller can change a message; a transport, which only hands the bytes to its
 * client library (which writes them out without changing them) or has just received them in an array
 * of its own, does not need either copy. With 1 KiB payloads the two copies on each side were a
 * visible part of a transport's cost per message (allocation, zeroing and copying of 4 KiB per
 * message).
 *
 * <p>Because the array it gives out is the message's own, only Courier's implementation classes may
 * hold an instance: {@link #forTransport} hands one only to a class in an {@code io.courier...internal}
 * package, identified by its own full-privilege lookup, which no other class can create through
 * public API. A transport keeps it in a constant:
 *
 * <pre>{@code
 * private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());
 * ...
 * producer.send(topic, PAYLOADS.view(message));   // the client library only reads it
 * }</pre>
 *
 * <p>The rules: the array from {@link #view} must never be written to, nor kept beyond handing it to
 * the client library; the array given to {@link #build} must not be used by the caller afterwards.
 * Wherever the bytes reach application code (a {@link io.courier.Codec}, a handler) Courier uses
 * {@link Message#payload()}, whose array the receiver may write to. Applications use that too.
 * Instances are immutable and thread-safe.
 */
public final class PayloadAccess {

    /** What {@link Message} provides; installed once by its class initializer. */
    public interface Bridge {
        /** The message's own payload array. */
        byte[] payload(Message message);

        /** Builds {@code builder}'s message with {@code payload} as its payload array, not a copy of it. */
        Message build(Message.Builder builder, byte[] payload);
    }

    private static final PayloadAccess INSTANCE = new PayloadAccess();
    private static volatile Bridge bridge;

    private PayloadAccess() {
    }

    /**
     * The access for the class that created {@code caller} with {@link MethodHandles#lookup()}.
     *
     * @throws IllegalCallerException when that class is not in one of Courier's implementation packages
     *                                ({@code io.courier.} ... {@code .internal}) or {@code caller} is not
     *                                a full-privilege lookup
     */
    public static PayloadAccess forTransport(MethodHandles.Lookup caller) {
        Objects.requireNonNull(caller, "caller");
        String pkg = caller.lookupClass().getPackageName();
        boolean internal = pkg.startsWith("io.courier.") && (pkg.endsWith(".internal") || pkg.contains(".internal."));
        if (!internal || !caller.hasFullPrivilegeAccess()) {
            throw new IllegalCallerException("PayloadAccess gives out a message's own payload array and is for Courier's"
                    + " transports only (classes in io.courier.*.internal, with their own MethodHandles.lookup()), but "
                    + caller.lookupClass().getName() + " asked" + (caller.hasFullPrivilegeAccess() ? "" : " with a reduced"
                    + " lookup") + "; use Message.payload(), which returns a copy");
        }
        return INSTANCE;
    }

    /**
     * Installs the bridge. Called once by {@link Message}'s class initializer with its own lookup.
     *
     * @throws IllegalCallerException when {@code caller} is not {@link Message}'s full-privilege lookup
     * @throws IllegalStateException  when a bridge is installed already
     */
    public static synchronized void install(MethodHandles.Lookup caller, Bridge b) {
        if (caller.lookupClass() != Message.class || !caller.hasFullPrivilegeAccess()) {
            throw new IllegalCallerException("only Message installs the payload bridge, but "
                    + caller.lookupClass().getName() + " tried");
        }
        if (bridge != null) {
            throw new IllegalStateException("the payload bridge is installed already");
        }
        bridge = Objects.requireNonNull(b, "bridge");
    }

    /** {@code message}'s payload array itself; never write to it. */
    public byte[] view(Message message) {
        return bridge().payload(message);
    }

    /** Builds {@code builder}'s message with {@code payload} (not copied) as its payload; the caller gives the array up. */
    public Message build(Message.Builder builder, byte[] payload) {
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
