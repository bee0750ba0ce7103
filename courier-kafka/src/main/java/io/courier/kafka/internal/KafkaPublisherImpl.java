package io.courier.kafka.internal;

import io.courier.BatchPublishException;
import io.courier.DelayedPublisher;
import io.courier.Headers;
import io.courier.Message;
import io.courier.MessageTooLargeException;
import io.courier.PublishException;
import io.courier.PublishRefusedException;
import io.courier.PublishResult;
import io.courier.TransportClosedException;
import io.courier.kafka.KafkaConfig;
import io.courier.spi.Payloads;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka transport's publisher, and the producer side of everything the transport writes itself:
 * retries, delayed records, dead letters of unconvertible records.
 *
 * <p>One idempotent {@code acks=all} producer is shared by all threads. Futures complete on the
 * producer's network thread; dependent actions that block must use the {@code *Async} variants.
 * When a transactional id is configured, {@link #publishAll} runs each batch in a Kafka transaction
 * on a second, transactional producer, one batch at a time.
 */
public final class KafkaPublisherImpl implements DelayedPublisher {

    private static final Logger log = LoggerFactory.getLogger(KafkaPublisherImpl.class);

    private final KafkaConfig config;
    private final KafkaClients clients;
    private final TopicManager topics;
    private final DelayLadder ladder;
    private final Runnable forwarderStarter;
    private final KafkaProducer<byte[], byte[]> producer;
    private final ExecutorService transactions;
    private KafkaProducer<byte[], byte[]> transactional; // used only on the transactions thread
    private final AtomicBoolean closed = new AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicInteger roundRobin = new java.util.concurrent.atomic.AtomicInteger();

    /**
     * A publisher. {@code forwarderStarter} is run before the first delayed record is written, so that
     * some forwarder delivers it.
     */
    public KafkaPublisherImpl(KafkaClients clients, TopicManager topics, DelayLadder ladder, Runnable forwarderStarter) {
        this.config = clients.config();
        this.clients = clients;
        this.topics = topics;
        this.ladder = ladder;
        this.forwarderStarter = forwarderStarter;
        this.producer = clients.producer(null);
        this.transactions = config.transactionalId().isPresent()
                ? Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "courier-kafka-transactions");
                    t.setDaemon(true);
                    return t;
                })
                : null;
    }

    @Override
    public CompletableFuture<PublishResult> publish(String topic, Message message) {
        checkPublish(topic, message);
        int partitions = topics.await(topics.ensureUserTopic(topic), "creating topic '" + topic + "'");
        return send(RecordCodec.toRecord(topic, partitionFor(message, partitions), message, Map.of(), false))
                .handle((meta, error) -> result(topic, message, meta, error));
    }

    /**
     * The partition for {@code message}: none (Kafka's murmur2 partitioner) when it has a key;
     * round-robin when it has none and {@link KafkaConfig#spreadUnkeyedMessages()} is on.
     */
    private Integer partitionFor(Message message, int partitions) {
        if (message.key().isPresent() || !config.spreadUnkeyedMessages() || partitions <= 1) {
            return null;
        }
        return Math.floorMod(roundRobin.getAndIncrement(), partitions);
    }

    @Override
    public CompletableFuture<PublishResult> publishAt(String topic, Message message, Instant deliverAt) {
        checkPublish(topic, message);
        Objects.requireNonNull(deliverAt, "deliverAt");
        int partitions = topics.await(topics.ensureUserTopic(topic), "creating topic '" + topic + "'");
        if (!deliverAt.isAfter(Instant.now())) {
            return send(RecordCodec.toRecord(topic, partitionFor(message, partitions), message, Map.of(), false))
                    .handle((meta, error) -> result(topic, message, meta, error));
        }
        ProducerRecord<byte[], byte[]> record = RecordCodec.toRecord(topic, message, Map.of(), true);
        return schedule(topic, record.key(), record.value(), record.headers(), deliverAt)
                .handle((meta, error) -> {
                    if (error != null) {
                        throw failure(topic, message, error);
                    }
                    return PublishResult.of(message.id(), topic);
                });
    }

    @Override
    public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
        Payloads.checkTopic(topic);
        TopicNames.requireLegal(topic);
        Objects.requireNonNull(messages, "messages");
        ensureOpen();
        if (messages.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        int partitions = topics.await(topics.ensureUserTopic(topic), "creating topic '" + topic + "'");
        return transactions != null ? publishAtomically(topic, partitions, List.copyOf(messages)) : publishEach(topic, partitions, messages);
    }

    /**
     * Sends every message and completes once all are acknowledged or failed. One callback per record
     * stores its outcome and counts down; the last one builds the results (no future per record).
     */
    private CompletableFuture<List<PublishResult>> publishEach(String topic, int partitions, List<Message> messages) {
        int n = messages.size();
        Message[] batch = messages.toArray(Message[]::new);
        // Per record: its RecordMetadata, or a Throwable (Kafka's error, or a refusal before sending).
        Object[] outcomes = new Object[n];
        AtomicInteger remaining = new AtomicInteger(n);
        CompletableFuture<List<PublishResult>> result = new CompletableFuture<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            Message m = batch[i];
            boolean checked = false;
            try {
                Objects.requireNonNull(m, "message");
                Payloads.checkSize(topic, m, config.maxPayloadBytes());
                ProducerRecord<byte[], byte[]> record = RecordCodec.toRecord(topic, partitionFor(m, partitions), m, Map.of(), false);
                checked = true;
                producer.send(record, (meta, error) -> {
                    outcomes[index] = error != null ? failure(topic, m, error) : meta;
                    if (remaining.decrementAndGet() == 0) {
                        completeBatch(topic, batch, outcomes, result);
                    }
                });
            } catch (RuntimeException e) {
                outcomes[index] = checked ? failure(topic, m, new NotSentException(e)) : e;
                if (remaining.decrementAndGet() == 0) {
                    completeBatch(topic, batch, outcomes, result);
                }
            }
        }
        return result;
    }

    private static void completeBatch(String topic, Message[] batch, Object[] outcomes, CompletableFuture<List<PublishResult>> result) {
        try {
            boolean failed = false;
            for (Object outcome : outcomes) {
                if (!(outcome instanceof RecordMetadata)) {
                    failed = true;
                    break;
                }
            }
            if (!failed) {
                result.complete(new Published(topic, batch, outcomes));
                return;
            }
            PublishResult[] results = new PublishResult[batch.length];
            for (int i = 0; i < batch.length; i++) {
                if (outcomes[i] instanceof RecordMetadata meta) {
                    results[i] = PublishResult.of(batch[i].id(), topic, position(meta));
                }
            }
            List<BatchPublishException.Outcome> list = new ArrayList<>(batch.length);
            for (int i = 0; i < batch.length; i++) {
                if (results[i] != null) {
                    list.add(BatchPublishException.Outcome.published(results[i]));
                } else {
                    list.add(BatchPublishException.Outcome.failed(batch[i] == null ? "null" : batch[i].id(), (Throwable) outcomes[i]));
                }
            }
            result.completeExceptionally(new BatchPublishException(topic, list));
        } catch (RuntimeException | Error e) {
            result.completeExceptionally(e);
        }
    }

    private CompletableFuture<List<PublishResult>> publishAtomically(String topic, int partitions, List<Message> messages) {
        for (Message m : messages) {
            try {
                Payloads.checkSize(topic, m, config.maxPayloadBytes());
            } catch (MessageTooLargeException e) {
                return CompletableFuture.failedFuture(allFailed(topic, messages, e));
            }
        }
        CompletableFuture<List<PublishResult>> result = new CompletableFuture<>();
        transactions.execute(() -> {
            try {
                result.complete(runTransaction(topic, partitions, messages));
            } catch (Throwable t) {
                result.completeExceptionally(allFailed(topic, messages, t));
            }
        });
        return result;
    }

    private List<PublishResult> runTransaction(String topic, int partitions, List<Message> messages) throws Exception {
        ensureOpen();
        KafkaProducer<byte[], byte[]> p = transactionalProducer();
        try {
            p.beginTransaction();
            List<Future<RecordMetadata>> sends = new ArrayList<>(messages.size());
            for (Message m : messages) {
                sends.add(p.send(RecordCodec.toRecord(topic, partitionFor(m, partitions), m, Map.of(), false)));
            }
            p.commitTransaction();
            List<PublishResult> results = new ArrayList<>(messages.size());
            for (int i = 0; i < messages.size(); i++) {
                RecordMetadata meta = sends.get(i).get();
                results.add(PublishResult.of(messages.get(i).id(), topic, position(meta)));
            }
            return List.copyOf(results);
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException | UnsupportedVersionException fatal) {
            closeTransactional();
            throw fatal;
        } catch (KafkaException | ExecutionException e) {
            try {
                p.abortTransaction();
            } catch (KafkaException abortFailure) {
                e.addSuppressed(abortFailure);
                closeTransactional();
            }
            throw e;
        }
    }

    private KafkaProducer<byte[], byte[]> transactionalProducer() {
        if (transactional == null) {
            KafkaProducer<byte[], byte[]> p = clients.producer(config.transactionalId().orElseThrow());
            try {
                p.initTransactions();
            } catch (RuntimeException e) {
                p.close(Duration.ZERO);
                throw e;
            }
            transactional = p;
        }
        return transactional;
    }

    private void closeTransactional() {
        if (transactional != null) {
            try {
                transactional.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                log.debug("closing the transactional producer failed", e);
            }
            transactional = null;
        }
    }

    private static BatchPublishException allFailed(String topic, List<Message> messages, Throwable cause) {
        Throwable c = unwrap(cause);
        PublishException failure = c instanceof PublishException pe ? pe
                : new PublishException(topic, "transaction to topic '" + topic + "' was aborted, no message of the batch was published: " + c, c);
        List<BatchPublishException.Outcome> outcomes = messages.stream()
                .map(m -> BatchPublishException.Outcome.failed(m.id(), failure))
                .toList();
        return new BatchPublishException(topic, outcomes);
    }

    /** Sends a raw record with the shared producer; completes when it is acknowledged. */
    public CompletableFuture<RecordMetadata> send(ProducerRecord<byte[], byte[]> record) {
        ensureOpen();
        CompletableFuture<RecordMetadata> f = new CompletableFuture<>();
        try {
            producer.send(record, (meta, error) -> {
                if (error != null) {
                    f.completeExceptionally(error);
                } else {
                    f.complete(meta);
                }
            });
        } catch (RuntimeException e) {
            f.completeExceptionally(new NotSentException(e));
        }
        return f;
    }

    /** The producer refused a record before sending it (no metadata or buffer space in time, too large, closed). */
    private static final class NotSentException extends KafkaException {
        NotSentException(RuntimeException cause) {
            super("not sent: " + cause, cause);
        }
    }

    /**
     * Writes a record that must reach {@code target} no earlier than {@code deliverAt}: directly when
     * that time has come, otherwise to the delay step for the time remaining.
     */
    public CompletableFuture<RecordMetadata> schedule(String target, byte[] key, byte[] value,
                                                      org.apache.kafka.common.header.Headers headers, Instant deliverAt) {
        Instant now = Instant.now();
        RecordHeaders clean = withoutDelayHeaders(headers);
        if (!deliverAt.isAfter(now)) {
            return send(new ProducerRecord<>(target, null, now.toEpochMilli(), key, value, clean));
        }
        forwarderStarter.run();
        DelayLadder.Step step = ladder.stepFor(Duration.between(now, deliverAt));
        Instant stepDue = now.plus(step.delay());
        Instant due = stepDue.isBefore(deliverAt) ? stepDue : deliverAt;
        clean.add(RecordCodec.TARGET_TOPIC, target.getBytes(StandardCharsets.UTF_8));
        clean.add(RecordCodec.DELIVER_AT, Long.toString(deliverAt.toEpochMilli()).getBytes(StandardCharsets.UTF_8));
        clean.add(RecordCodec.DUE_AT, Long.toString(due.toEpochMilli()).getBytes(StandardCharsets.UTF_8));
        return topics.ensure(step.topic(), config.partitions(), false, Optional.of(step.retention()))
                .thenCompose(n -> send(new ProducerRecord<>(step.topic(), null, now.toEpochMilli(), key, value, clean)));
    }

    /**
     * Sends {@code message} back to a group through its retry topic after {@code delay}, as attempt
     * {@code nextAttempt}.
     */
    public CompletableFuture<RecordMetadata> retry(String retryTopic, Message message, int nextAttempt, Duration delay) {
        ProducerRecord<byte[], byte[]> r = RecordCodec.toRecord(retryTopic, message,
                Map.of(RecordCodec.ATTEMPT, Integer.toString(nextAttempt)), true);
        if (delay.isZero() || delay.isNegative()) {
            return send(r);
        }
        return schedule(retryTopic, r.key(), r.value(), r.headers(), Instant.now().plus(delay));
    }

    /**
     * Stores a record that cannot be converted into a message in {@code <sourceTopic>.dlq}, bytes
     * unchanged, with the reason in Courier's dead-letter headers.
     */
    public CompletableFuture<RecordMetadata> deadLetterUnconvertible(ConsumerRecord<byte[], byte[]> record, String sourceTopic,
                                                                     String group, String reason) {
        String dlq = TopicNames.deadLetterTopic(sourceTopic);
        RecordHeaders headers = new RecordHeaders();
        for (Header h : record.headers()) {
            headers.add(h.key(), h.value());
        }
        String now = Instant.now().toString();
        headers.add(Headers.ORIGINAL_TOPIC, utf8(sourceTopic));
        headers.add(Headers.DEAD_LETTER_REASON, utf8("unconvertible"));
        headers.add(Headers.EXCEPTION_MESSAGE, utf8(reason.length() > 1000 ? reason.substring(0, 1000) : reason));
        headers.add(Headers.DEAD_LETTER_GROUP, utf8(group));
        headers.add(Headers.FIRST_FAILURE_AT, utf8(now));
        headers.add(Headers.LAST_FAILURE_AT, utf8(now));
        headers.add("courier-original-partition", utf8(Integer.toString(record.partition())));
        headers.add("courier-original-offset", utf8(Long.toString(record.offset())));
        return topics.ensure(dlq, config.partitions(), false, Optional.empty())
                .thenCompose(n -> send(new ProducerRecord<>(dlq, null, System.currentTimeMillis(), record.key(), record.value(), headers)));
    }

    /** Flushes and closes the producers, waiting up to {@code timeout} for records in flight. Idempotent. */
    public void close(Duration timeout) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (transactions != null) {
            transactions.execute(this::closeTransactional);
            transactions.shutdown();
        }
        producer.close(timeout);
    }

    private void checkPublish(String topic, Message message) {
        Payloads.checkTopic(topic);
        TopicNames.requireLegal(topic);
        Objects.requireNonNull(message, "message");
        ensureOpen();
        Payloads.checkSize(topic, message, config.maxPayloadBytes());
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new TransportClosedException("Kafka transport is closed");
        }
    }

    private static PublishResult result(String topic, Message message, RecordMetadata meta, Throwable error) {
        if (error != null) {
            throw failure(topic, message, error);
        }
        return PublishResult.of(message.id(), topic, position(meta));
    }

    private static PublishException failure(String topic, Message message, Throwable error) {
        Throwable cause = unwrap(error);
        if (cause instanceof PublishException pe) {
            return pe;
        }
        boolean sent = !(cause instanceof NotSentException);
        if (!sent) {
            cause = cause.getCause();
        }
        if (cause instanceof RecordTooLargeException || cause instanceof RecordBatchTooLargeException) {
            return new MessageTooLargeException(topic, "message " + message.id() + " to topic '" + topic
                    + "' was refused as too large by Kafka and not published (a payload of " + message.payloadSize()
                    + " bytes plus key and headers, over the topic's max.message.bytes or the broker's message.max.bytes): "
                    + cause.getMessage(), message.payloadSize(), MessageTooLargeException.UNKNOWN_LIMIT, cause);
        }
        if (sent && cause instanceof RetriableException) {
            // Retries ran out (delivery timeout) or the connection failed: an attempt may have been written.
            return new PublishException(topic, "the outcome of message " + message.id() + " to topic '" + topic
                    + "' is unknown (" + cause + "); it may or may not have been stored", cause);
        }
        if (sent) {
            // A non-retriable answer of the broker (invalid topic, authorization, corrupt record): again is the same.
            return new PublishRefusedException(topic, "message " + message.id() + " to topic '" + topic
                    + "' was not published: Kafka refused it: " + cause, cause);
        }
        return new PublishException(topic, "message " + message.id() + " to topic '" + topic + "' was not published: "
                + "the producer did not send it: " + cause, cause);
    }

    /**
     * The results of a batch that was acknowledged in full, built when read. The batch completes on
     * the producer's network thread, the one thread that sends for the whole transport; building 500
     * results and their {@code partition@offset} strings there took time from sending, while most
     * callers only wait for the batch and never look at the results.
     */
    private static final class Published extends java.util.AbstractList<PublishResult> implements java.util.RandomAccess {
        private final String topic;
        private final Message[] batch;
        private final Object[] metadata;

        Published(String topic, Message[] batch, Object[] metadata) {
            this.topic = topic;
            this.batch = batch;
            this.metadata = metadata;
        }

        @Override
        public PublishResult get(int index) {
            return PublishResult.of(batch[index].id(), topic, position((RecordMetadata) metadata[index]));
        }

        @Override
        public int size() {
            return batch.length;
        }
    }

    private static String position(RecordMetadata meta) {
        return meta.partition() + "@" + meta.offset();
    }

    private static RecordHeaders withoutDelayHeaders(org.apache.kafka.common.header.Headers headers) {
        RecordHeaders copy = new RecordHeaders();
        for (Header h : headers) {
            String k = h.key();
            if (!k.equals(RecordCodec.TARGET_TOPIC) && !k.equals(RecordCodec.DELIVER_AT) && !k.equals(RecordCodec.DUE_AT)) {
                copy.add(k, h.value());
            }
        }
        return copy;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
