/**
 * The Apache Kafka transport: {@link io.courier.kafka.KafkaTransport}, configured by an immutable
 * {@link io.courier.kafka.KafkaConfig}, with per-subscription settings in
 * {@link io.courier.kafka.KafkaSubscriptionOptions} (retry mode, ordering unit), a
 * {@link io.courier.TransportOption} attached to a subscription's {@link io.courier.SubscriptionOptions}
 * so that it also reaches Kafka through a {@link io.courier.Router}.
 *
 * <p>Guarantees in short: publish completes on an {@code acks=all} acknowledgement from an idempotent
 * producer; consumer groups commit a partition only up to its first unfinished record; records with
 * the same key are handled in order; failures are retried through per-group retry topics (or in
 * place) and delayed delivery goes through a ladder of delay topics. The full guide, including how to
 * run a local broker with {@code scripts/kafka}, is {@code docs/transports/kafka.md}.
 *
 * <p>Implementation classes live in {@code io.courier.kafka.internal}; do not depend on them.
 */
package io.courier.kafka;
