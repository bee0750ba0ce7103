/**
 * Courier's public API: {@link io.courier.Message}, {@link io.courier.Publisher},
 * {@link io.courier.Subscriber}, {@link io.courier.Transport}, {@link io.courier.Router} with
 * {@link io.courier.Middleware}, codecs and the exceptions Courier throws.
 *
 * <p>Start with {@link io.courier.Router}: build one over a transport, add middleware, route topics
 * to handlers, start it. Delivery guarantees are described in {@code docs/concepts.md}.
 */
package io.courier;
