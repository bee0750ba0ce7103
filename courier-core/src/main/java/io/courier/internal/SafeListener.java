package io.courier.internal;

import io.courier.LifecycleListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Calls a {@link LifecycleListener} so that its exceptions are logged and never change settlement. */
public final class SafeListener {

    private static final Logger log = LoggerFactory.getLogger(SafeListener.class);

    private SafeListener() {
    }

    /** Runs one listener call, logging anything it throws. */
    public static void call(LifecycleListener listener, Runnable call) {
        if (listener == LifecycleListener.NONE) {
            return;
        }
        try {
            call.run();
        } catch (RuntimeException e) {
            log.warn("lifecycle listener {} threw; ignored", listener.getClass().getName(), e);
        }
    }
}
