/**
 * Implementation of the RabbitMQ transport; not an API. Connections and their blocked/recovery state
 * ({@link io.courier.rabbitmq.internal.ConnectionWatch}), topology declaration
 * ({@link io.courier.rabbitmq.internal.Topology}), the delay ladder
 * ({@link io.courier.rabbitmq.internal.DelayLadder}), the confirm-tracking publisher on a channel pool
 * ({@link io.courier.rabbitmq.internal.RabbitPublisher}), the consumer
 * ({@link io.courier.rabbitmq.internal.RabbitSubscription}) and the message mapping
 * ({@link io.courier.rabbitmq.internal.MessageMapping}).
 */
package io.courier.rabbitmq.internal;
