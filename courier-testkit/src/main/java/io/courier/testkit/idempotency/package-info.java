/**
 * The idempotency-store conformance suite: the contract of {@link io.courier.IdempotencyStore} as
 * JUnit 5 tests that a store's own test inherits.
 *
 * <ul>
 *   <li>{@link io.courier.testkit.idempotency.IdempotencyStoreConformanceSuite}: extend it, say how to
 *       make a fresh store for one test, and every test runs against your store;</li>
 *   <li>{@link io.courier.testkit.idempotency.IdempotencyStoreFactory}: opens the store from that
 *       description, in the test's JVM and in the child JVMs of the multi-process tests;</li>
 *   <li>{@link io.courier.testkit.idempotency.IdempotencyWorkerMain}: the child JVMs' main class.</li>
 * </ul>
 *
 * <p>See {@code docs/testkit.md}, section "The idempotency-store suite".
 */
package io.courier.testkit.idempotency;
