package io.courier.tasks;

import io.courier.CourierException;

/**
 * Thrown by {@link TaskClient#enqueue} when a unique task (see {@link TaskOptions#uniqueTtl()}) with
 * the same type, payload and queue is still locked, and by the {@link TaskScheduler}'s store calls
 * when a periodic tick was enqueued already. Nothing was stored.
 */
public class DuplicateTaskException extends CourierException {

    private final String queue;
    private final String type;

    /** A duplicate of a task of {@code type} in {@code queue}. */
    public DuplicateTaskException(String queue, String type, String message) {
        super(message);
        this.queue = queue;
        this.type = type;
    }

    /** The queue of the rejected task. */
    public String queue() {
        return queue;
    }

    /** The type of the rejected task. */
    public String type() {
        return type;
    }
}
