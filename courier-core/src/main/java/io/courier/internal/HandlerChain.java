package io.courier.internal;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.LifecycleListener;
import io.courier.Message;
import io.courier.Middleware;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Assembles handler + middleware into one handler, with lifecycle events and run-time checks of the
 * middleware contract that name the middleware at fault.
 */
public final class HandlerChain {

    private HandlerChain() {
    }

    /**
     * Wraps {@code handler} with {@code middleware} (index 0 outermost).
     *
     * @throws IllegalStateException if a middleware's {@code wrap} returns null
     */
    public static Handler build(Handler handler, List<Middleware> middleware, LifecycleListener listener) {
        Handler current = failureObserver(handler, listener);
        for (int i = middleware.size() - 1; i >= 0; i--) {
            Middleware m = middleware.get(i);
            Handler wrapped = m.wrap(guard(current, m, i));
            if (wrapped == null) {
                throw new IllegalStateException("middleware '" + m.name() + "' (position " + (i + 1)
                        + " of " + middleware.size() + ") returned null from wrap(Handler); it must return a handler");
            }
            current = wrapped;
        }
        return outermost(current, middleware.size(), listener);
    }

    private static Handler failureObserver(Handler handler, LifecycleListener listener) {
        if (listener == LifecycleListener.NONE) {
            return handler;   // nobody to tell: no per-delivery timing
        }
        return d -> {
            long start = System.nanoTime();
            try {
                handler.handle(d);
            } catch (Exception | Error e) {
                Duration took = Duration.ofNanos(System.nanoTime() - start);
                SafeListener.call(listener, () -> listener.onFailed(d, e, took));
                throw e;
            }
        };
    }

    private static Handler guard(Handler next, Middleware owner, int layer) {
        return d -> {
            if (d == null) {
                throw new IllegalStateException("middleware '" + owner.name() + "' called next.handle(null)");
            }
            ChainScope scope = d instanceof ScopedDelivery sd ? sd.scope : null;
            if (scope == null) {
                next.handle(d);   // a middleware replaced the delivery: nothing left to check against
                return;
            }
            if (scope.finished) {
                throw new IllegalStateException("middleware '" + owner.name() + "' called next.handle() for message "
                        + d.message().id() + " after its own handler had returned; next must be called before returning");
            }
            if (!scope.active.compareAndSet(layer, 0, 1)) {
                throw new IllegalStateException("middleware '" + owner.name() + "' called next.handle() for message "
                        + d.message().id() + " while an earlier call for the same delivery was still running");
            }
            try {
                next.handle(d);
            } finally {
                scope.active.set(layer, 0);
            }
        };
    }

    private static Handler outermost(Handler chain, int layers, LifecycleListener listener) {
        if (listener == LifecycleListener.NONE) {
            if (layers == 0) {
                return chain;   // no middleware to check and nobody to tell
            }
            return d -> {
                ScopedDelivery scoped = new ScopedDelivery(d, new ChainScope(layers));
                try {
                    chain.handle(scoped);
                } finally {
                    scoped.scope.finished = true;
                }
            };
        }
        return d -> {
            ScopedDelivery scoped = new ScopedDelivery(d, new ChainScope(layers));
            SafeListener.call(listener, () -> listener.onDelivered(d));
            long start = System.nanoTime();
            try {
                chain.handle(scoped);
            } finally {
                scoped.scope.finished = true;
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            Optional<Delivery.DeadLetterMark> dead = d.deadLettered();
            Optional<Delivery.RetryRequest> retry = d.retryRequest();
            if (dead.isPresent()) {
                SafeListener.call(listener, () -> listener.onDeadLettered(d, dead.get().topic(), dead.get().reason()));
            } else if (retry.isPresent()) {
                SafeListener.call(listener, () -> listener.onRetried(d, retry.get().delay()));
            } else {
                SafeListener.call(listener, () -> listener.onAcked(d, took));
            }
        };
    }

    /** Per-delivery state for the contract checks. */
    static final class ChainScope {
        final AtomicIntegerArray active;
        volatile boolean finished;

        ChainScope(int layers) {
            this.active = new AtomicIntegerArray(Math.max(1, layers));
        }
    }

    /** The transport's delivery plus the chain scope; every call goes to the transport's delivery. */
    static final class ScopedDelivery implements Delivery {
        private final Delivery delegate;
        final ChainScope scope;

        ScopedDelivery(Delivery delegate, ChainScope scope) {
            this.delegate = delegate;
            this.scope = scope;
        }

        @Override
        public Message message() {
            return delegate.message();
        }

        @Override
        public String topic() {
            return delegate.topic();
        }

        @Override
        public String group() {
            return delegate.group();
        }

        @Override
        public int attempt() {
            return delegate.attempt();
        }

        @Override
        public void retryAfter(Duration delay, Map<String, String> headers) {
            delegate.retryAfter(delay, headers);
        }

        @Override
        public Optional<RetryRequest> retryRequest() {
            return delegate.retryRequest();
        }

        @Override
        public void markDeadLettered(String deadLetterTopic, String reason) {
            delegate.markDeadLettered(deadLetterTopic, reason);
        }

        @Override
        public Optional<DeadLetterMark> deadLettered() {
            return delegate.deadLettered();
        }

        @Override
        public String toString() {
            return delegate.toString();
        }
    }
}
