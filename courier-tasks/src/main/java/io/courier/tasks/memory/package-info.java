/**
 * An in-memory {@link io.courier.tasks.spi.TaskStore}:
 * {@link io.courier.tasks.memory.InMemoryTaskStore}, the fake of the task-store SPI for tests and
 * throw-away work. It passes the task-store conformance suite; nothing it holds survives the JVM.
 */
package io.courier.tasks.memory;
