/**
 * The task store SPI: what a storage backend implements so that the task client, server,
 * scheduler and inspector can run on it. Users only pick an implementation
 * ({@code SqlTaskStore} in {@code courier-tasks-jdbc}, {@code RedisTaskStore} in {@code courier-tasks-redis}); store
 * authors implement {@link io.courier.tasks.spi.TaskStore} and run the conformance suite against it.
 */
package io.courier.tasks.spi;
