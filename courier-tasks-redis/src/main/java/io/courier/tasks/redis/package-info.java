/**
 * The Redis task store: {@link io.courier.tasks.redis.RedisTaskStore}, with every state change in
 * one Lua script. Key layout, for prefix {@code p} (default {@code courier:tasks}):
 * {@code p:t:<id>} (task hash), {@code p:q:<queue>:pending} (list), {@code p:q:<queue>:active},
 * {@code :scheduled}, {@code :retry}, {@code :archived}, {@code :completed} (sorted sets),
 * {@code p:queues}, {@code p:paused} (sets), {@code p:u:<key>} (unique locks with a TTL),
 * {@code p:sched:<entry>} (last periodic tick), {@code p:stats:<queue>:<day>} (counters, 90 days),
 * {@code p:servers} and {@code p:server:<id>} (server reports with a TTL).
 */
package io.courier.tasks.redis;
