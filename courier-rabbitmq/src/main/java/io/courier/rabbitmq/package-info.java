/**
 * The RabbitMQ transport: {@link io.courier.rabbitmq.RabbitMqTransport}, configured by
 * {@link io.courier.rabbitmq.RabbitMqConfig} (connection, TLS, timeouts, queue type, per-topic
 * {@link io.courier.rabbitmq.TopicTopology}).
 *
 * <p>What it creates on the broker: one exchange per topic (or a configured shared exchange), one
 * durable queue {@code <topic>.<group>} per consumer group, and the shared delay ladder
 * ({@code courier.delay.*}). What it promises: a publish completes only after a publisher confirm;
 * consumers ack after the handler returns; failures are redelivered later with an attempt count;
 * delayed messages never wait behind longer delays; connections recover by themselves. See
 * {@code docs/transports/rabbitmq.md} for the full guide.
 *
 * <p>Everything in {@code io.courier.rabbitmq.internal} is implementation and may change.
 */
package io.courier.rabbitmq;
