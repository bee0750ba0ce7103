/**
 * Building blocks for transport authors: the {@link io.courier.spi.BasicDelivery} handed to
 * handlers, {@link io.courier.spi.HandlerInvoker} which runs a handler and decides the settlement
 * ({@link io.courier.spi.Outcome}), consumer thread factories, shared publish-time checks, the
 * checks of subscription options a transport may not honour ({@link io.courier.spi.SubscriptionChecks})
 * and the range checks of configuration builders ({@link io.courier.spi.Settings}).
 * Application code does not need this package.
 */
package io.courier.spi;
