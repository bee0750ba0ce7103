package io.courier.internal;

import io.courier.Correlation;
import io.courier.DelayedPublisher;
import io.courier.LifecycleListener;
import io.courier.Message;
import io.courier.PublishResult;
import io.courier.Publisher;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Decorates a publisher: stamps the current correlation id and reports outcomes to a listener.
 * Keeps the {@link DelayedPublisher} capability when the delegate has it.
 */
public class ObservedPublisher implements Publisher {

    final Publisher delegate;
    final LifecycleListener listener;

    ObservedPublisher(Publisher delegate, LifecycleListener listener) {
        this.delegate = delegate;
        this.listener = listener;
    }

    /** Wraps {@code delegate}; the result is a {@link DelayedPublisher} when the delegate is one. */
    public static Publisher wrap(Publisher delegate, LifecycleListener listener) {
        return delegate instanceof DelayedPublisher dp ? new Delayed(dp, listener) : new ObservedPublisher(delegate, listener);
    }

    @Override
    public CompletableFuture<PublishResult> publish(String topic, Message message) {
        Message stamped = Correlation.stamp(message);
        return observe(topic, stamped, delegate.publish(topic, stamped));
    }

    @Override
    public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
        // Without a correlation id on this thread there is nothing to stamp: pass the list on as it is.
        List<Message> stamped = Correlation.current().isEmpty() ? messages : messages.stream().map(Correlation::stamp).toList();
        CompletableFuture<List<PublishResult>> f = delegate.publishAll(topic, stamped);
        if (listener == LifecycleListener.NONE) {
            return f;
        }
        return f.whenComplete((results, error) -> {
            for (int i = 0; i < stamped.size(); i++) {
                Message m = stamped.get(i);
                if (error == null) {
                    PublishResult r = results.get(i);
                    SafeListener.call(listener, () -> listener.onPublished(topic, m, r));
                } else {
                    SafeListener.call(listener, () -> listener.onPublishFailed(topic, m, error));
                }
            }
        });
    }

    CompletableFuture<PublishResult> observe(String topic, Message message, CompletableFuture<PublishResult> f) {
        if (listener == LifecycleListener.NONE) {
            return f;
        }
        return f.whenComplete((r, e) -> {
            if (e == null) {
                SafeListener.call(listener, () -> listener.onPublished(topic, message, r));
            } else {
                SafeListener.call(listener, () -> listener.onPublishFailed(topic, message, e));
            }
        });
    }

    private static final class Delayed extends ObservedPublisher implements DelayedPublisher {
        Delayed(DelayedPublisher delegate, LifecycleListener listener) {
            super(delegate, listener);
        }

        @Override
        public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
            Message stamped = Correlation.stamp(message);
            return observe(topic, stamped, ((DelayedPublisher) delegate).publishAt(topic, stamped, deliverAt));
        }
    }
}
