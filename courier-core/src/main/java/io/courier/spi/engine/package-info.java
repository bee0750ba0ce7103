/**
 * The consumer engine every transport's subscriptions run on. A transport implements a
 * {@link io.courier.spi.engine.DeliverySource} (fetch, settle, release, extend leases: its broker
 * I/O, nothing else) and hands it to a {@link io.courier.spi.engine.ConsumerEngine}, which owns the
 * handler threads, the in-flight budget, ordering lanes, the close protocol, lease extension,
 * backoff after failures, rate-limited logging and lifecycle events. See {@code docs/testkit.md}.
 */
package io.courier.spi.engine;
