package io.courier.tasks;

/**
 * A handler that receives the payload already decoded (see
 * {@link TaskMux.Builder#handle(String, Class, TypedTaskHandler)}). A payload that cannot be
 * decoded archives the task with the decoding error as its reason; the handler is not called.
 *
 * @param <T> the payload type
 */
@FunctionalInterface
public interface TypedTaskHandler<T> {

    /** Handles the task with its decoded payload. Same contract as {@link TaskHandler#handle}. */
    void handle(TaskContext context, T payload) throws Exception;
}
