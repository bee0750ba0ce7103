/**
 * Implementation of the Kafka transport: the publisher and producer-side bookkeeping, the consumer's
 * delivery source for the consumer engine with per-partition offset tracking, the delay ladder and
 * its forwarder, topic administration and the message/record mapping. Not API: it may change in any
 * release.
 */
package io.courier.kafka.internal;
