/**
 * The task store SPI: what a storage backend implements so that the task client, server,
 * scheduler and inspector can run on it. Users only pick an implementation
 * ({@link io.courier.tasks.sql.SqlTaskStore}, {@link io.courier.tasks.redis.RedisTaskStore}); store
 * authors implement {@link io.courier.tasks.spi.TaskStore} and run the conformance suite against it.
 */
package io.courier.tasks.spi;
