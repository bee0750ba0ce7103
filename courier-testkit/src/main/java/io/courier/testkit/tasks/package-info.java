/**
 * The task-store conformance suite: the contract of {@link io.courier.tasks.spi.TaskStore} as JUnit 5
 * tests that a store's own test inherits.
 *
 * <ul>
 *   <li>{@link io.courier.testkit.tasks.TaskStoreConformanceSuite}: extend it, say how to make a fresh
 *       store for one test, and every test runs against your store;</li>
 *   <li>{@link io.courier.testkit.tasks.TaskStoreFactory}: opens the store from that description, in
 *       the test's JVM and in the child JVM of the SIGKILL test;</li>
 *   <li>{@link io.courier.testkit.tasks.KillableTaskWorker}: the child JVM's main class.</li>
 * </ul>
 *
 * <p>See {@code docs/testkit.md}, section "The task-store suite".
 */
package io.courier.testkit.tasks;
