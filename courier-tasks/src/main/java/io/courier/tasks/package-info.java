/**
 * A task queue in the style of Asynq: {@link io.courier.tasks.TaskClient} enqueues
 * {@link io.courier.tasks.Task}s, {@link io.courier.tasks.TaskServer} runs them through a
 * {@link io.courier.tasks.TaskMux} of handlers and {@link io.courier.tasks.TaskMiddleware},
 * {@link io.courier.tasks.TaskScheduler} enqueues periodic tasks and
 * {@link io.courier.tasks.TaskInspector} shows and manages queues, tasks and servers. All four work
 * on any {@link io.courier.tasks.spi.TaskStore}: {@code SqlTaskStore} (an embedded SQLite file by
 * default, or PostgreSQL; module {@code courier-tasks-jdbc}) or {@code RedisTaskStore} (module
 * {@code courier-tasks-redis}). This module has no database driver: add the store module you use.
 *
 * <p>Delivery is at-least-once: a task whose worker dies runs again, so handlers must be
 * idempotent. See {@code docs/tasks.md} for states, options, guarantees and store trade-offs.
 */
package io.courier.tasks;
