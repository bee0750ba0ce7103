/**
 * Building blocks for transport authors: the {@link io.courier.spi.BasicDelivery} handed to
 * handlers, {@link io.courier.spi.HandlerInvoker} which runs a handler and decides the settlement
 * ({@link io.courier.spi.Outcome}), consumer thread factories and shared publish-time checks.
 * Application code does not need this package.
 */
package io.courier.spi;
