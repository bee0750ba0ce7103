package io.courier.spi;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread factories for consumer workers: virtual threads when the runtime has them (Java 21+),
 * platform daemon threads otherwise. Courier targets Java 17, so virtual threads are reached
 * reflectively.
 */
public final class ConsumerThreads {

    private static final MethodHandle VIRTUAL_FACTORY = findVirtualFactory();

    private ConsumerThreads() {
    }

    /** True when this runtime offers virtual threads. */
    public static boolean virtualThreadsAvailable() {
        return VIRTUAL_FACTORY != null;
    }

    /**
     * A factory naming its threads {@code prefix-1}, {@code prefix-2}, ...; virtual threads when
     * available and {@code preferVirtual}, otherwise daemon platform threads.
     */
    public static ThreadFactory factory(String prefix, boolean preferVirtual) {
        if (preferVirtual && VIRTUAL_FACTORY != null) {
            try {
                return (ThreadFactory) VIRTUAL_FACTORY.invoke(prefix + "-");
            } catch (Throwable e) {
                // fall back to platform threads below
            }
        }
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** A platform-or-virtual factory with virtual threads preferred. */
    public static ThreadFactory factory(String prefix) {
        return factory(prefix, true);
    }

    private static MethodHandle findVirtualFactory() {
        try {
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            Class<?> builderClass = Class.forName("java.lang.Thread$Builder");
            Class<?> ofVirtualClass = Class.forName("java.lang.Thread$Builder$OfVirtual");
            MethodHandle ofVirtual = lookup.findStatic(Thread.class, "ofVirtual", MethodType.methodType(ofVirtualClass));
            MethodHandle name = lookup.findVirtual(ofVirtualClass, "name",
                    MethodType.methodType(ofVirtualClass, String.class, long.class));
            MethodHandle factory = lookup.findVirtual(builderClass, "factory", MethodType.methodType(ThreadFactory.class));
            // (String prefix) -> Thread.ofVirtual().name(prefix, 1).factory()
            MethodHandle named = MethodHandles.insertArguments(name, 2, 1L);           // (OfVirtual, String) -> OfVirtual
            MethodHandle builder = MethodHandles.collectArguments(named, 0, ofVirtual);  // (String) -> OfVirtual
            MethodHandle asBuilder = builder.asType(MethodType.methodType(builderClass, String.class));
            return MethodHandles.filterReturnValue(asBuilder, factory);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
