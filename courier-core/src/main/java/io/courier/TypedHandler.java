package io.courier;

/**
 * A handler that receives the payload already decoded by the router's {@link Codec}.
 *
 * @param <T> the payload type
 * @see Router.Builder#codec(Codec)
 */
@FunctionalInterface
public interface TypedHandler<T> {

    /** Handles one decoded payload; the delivery gives access to headers, attempt and settlement. */
    void handle(T payload, Delivery delivery) throws Exception;
}
