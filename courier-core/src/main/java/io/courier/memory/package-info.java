/**
 * The in-memory transport: the reference implementation of the core contract, for tests and
 * single-process use. Nothing survives the JVM.
 */
package io.courier.memory;
