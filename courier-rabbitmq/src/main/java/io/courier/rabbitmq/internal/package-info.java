/**
 * Implementation of the RabbitMQ transport; not an API. Connections and their blocked/recovery state
 * ({@link io.courier.rabbitmq.internal.ConnectionWatch}), topology declaration
 * ({@link io.courier.rabbitmq.internal.Topology}), the delay ladder
 * ({@link io.courier.rabbitmq.internal.DelayLadder}), the confirm-tracking publisher on a channel pool
 * ({@link io.courier.rabbitmq.internal.RabbitPublisher}), the consumers' broker side, run by the core's
 * consumer engine ({@link io.courier.rabbitmq.internal.RabbitSource}, and
 * {@link io.courier.rabbitmq.internal.PartitionedSource} for key-ordered groups) and the message mapping
 * ({@link io.courier.rabbitmq.internal.MessageMapping}).
 */
package io.courier.rabbitmq.internal;
