/**
 * Fault injection for transport tests: {@link io.courier.testkit.fault.ChildJvm} runs a second JVM and
 * kills it with SIGKILL, {@link io.courier.testkit.fault.KillableConsumerMain} is the slow consumer such a
 * child runs, and {@link io.courier.testkit.fault.TcpProxy} cuts or blackholes the network between a
 * transport and its broker.
 */
package io.courier.testkit.fault;
