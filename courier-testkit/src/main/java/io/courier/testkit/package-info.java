/**
 * The transport conformance suite: the contract every Courier transport must meet, as JUnit 5 tests
 * a transport's own test inherits.
 *
 * <ul>
 *   <li>{@link io.courier.testkit.TransportConformanceSuite}: extend it, implement
 *       {@code createTransport()} and {@code features()}, and every test runs against your transport;</li>
 *   <li>{@link io.courier.testkit.TransportFeatures}: what the transport declares it can do; tests
 *       needing an undeclared capability are skipped with a message naming it;</li>
 *   <li>{@link io.courier.testkit.DeliveryChecker}: counts lost, unexpected and duplicated messages;</li>
 *   <li>{@link io.courier.testkit.TransportFactory}: builds the transport inside a child JVM for the
 *       SIGKILL test.</li>
 * </ul>
 *
 * <p>The task-store conformance suite lives in {@link io.courier.testkit.tasks}; fault-injection
 * helpers live in {@link io.courier.testkit.fault}. This module is meant for test
 * scope only; see {@code docs/testkit.md}.
 */
package io.courier.testkit;
