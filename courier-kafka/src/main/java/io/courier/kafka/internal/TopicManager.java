package io.courier.kafka.internal;

import io.courier.CourierException;
import io.courier.kafka.KafkaConfig;
import io.courier.kafka.TopicPartitionsException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.LeaderNotAvailableException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Creates the topics a transport uses when they are missing (partitions and replication from the
 * config, {@code max.message.bytes} large enough for the payload limit) and checks that existing ones
 * have at least the required partition count. Each topic is checked once per transport; a failed
 * check is tried again on the next use. Thread-safe.
 *
 * <p>A topic counts as ready only once every partition's leader serves requests for it. A broker
 * announces a new topic in its metadata a moment before it has created the partitions' logs, and an
 * idempotent producer that sends in that moment can lose records (KAFKA-15591, fixed after Kafka
 * 4.3): its first request to a partition fails with {@code NOT_LEADER_OR_FOLLOWER}, a later request
 * with higher sequence numbers is appended, and every retry of the first is then rejected as out of
 * order until the delivery timeout expires it. So before the first send, the manager asks every
 * partition's leader for its end offset (a request the leader answers only once the partition is
 * online there) until all answer.
 */
public final class TopicManager {

    private final Admin admin;
    private final KafkaConfig config;
    private final Map<String, CompletableFuture<Integer>> topics = new ConcurrentHashMap<>();

    /** A manager using {@code admin}, which it does not own. */
    public TopicManager(Admin admin, KafkaConfig config) {
        this.admin = admin;
        this.config = config;
    }

    /**
     * Makes sure {@code topic} exists; completes with its partition count. {@code partitions} is the
     * count to create it with; {@code verify} whether fewer existing partitions are an error
     * ({@link TopicPartitionsException}); {@code retention} sets {@code retention.ms} on creation
     * when present.
     */
    public CompletableFuture<Integer> ensure(String topic, int partitions, boolean verify, Optional<Duration> retention) {
        CompletableFuture<Integer> known = topics.get(topic);
        if (known != null && !known.isCompletedExceptionally()) {
            return known;
        }
        CompletableFuture<Integer> created = new CompletableFuture<>();
        CompletableFuture<Integer> raced = topics.putIfAbsent(topic, created);
        if (raced != null) {
            if (!raced.isCompletedExceptionally()) {
                return raced;
            }
            topics.replace(topic, raced, created);
        }
        createOrDescribe(topic, partitions, verify, retention).whenComplete((count, error) -> {
            if (error != null) {
                topics.remove(topic, created);
                created.completeExceptionally(unwrap(error));
            } else {
                created.complete(count);
            }
        });
        return created;
    }

    /** {@link #ensure} for a user topic: the configured partitions, verified. */
    public CompletableFuture<Integer> ensureUserTopic(String topic) {
        return ensure(topic, config.partitionsFor(topic), config.verifyPartitions(), Optional.empty());
    }

    /** Waits for {@code future} up to the operation timeout, rethrowing its failure unchecked. */
    public <T> T await(CompletableFuture<T> future, String what) {
        try {
            return future.get(config.operationTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = unwrap(e);
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new CourierException(what + " failed: " + cause, cause);
        } catch (TimeoutException e) {
            throw new CourierException(what + " did not finish within " + config.operationTimeout()
                    + " (is the broker at " + config.bootstrapServers() + " reachable?)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CourierException(what + " was interrupted", e);
        }
    }

    private CompletableFuture<Integer> createOrDescribe(String topic, int partitions, boolean verify, Optional<Duration> retention) {
        NewTopic newTopic = new NewTopic(topic, Optional.of(partitions), config.replicationFactor());
        Map<String, String> configs = new java.util.HashMap<>();
        configs.put("max.message.bytes", Integer.toString(config.maxPayloadBytes() + KafkaClients.RECORD_OVERHEAD_BYTES));
        retention.ifPresent(r -> configs.put("retention.ms", Long.toString(r.toMillis())));
        newTopic.configs(configs);
        CompletableFuture<Void> create = admin.createTopics(List.of(newTopic)).all().toCompletionStage().toCompletableFuture();
        return create.handle((ok, error) -> {
            if (error == null) {
                return awaitLeaders(topic, partitions);
            }
            Throwable cause = unwrap(error);
            if (cause instanceof TopicExistsException) {
                return describe(topic, partitions, verify);
            }
            return CompletableFuture.<Integer>failedFuture(new CourierException(
                    "could not create Kafka topic '" + topic + "': " + cause.getMessage(), cause));
        }).thenCompose(f -> f);
    }

    private CompletableFuture<Integer> describe(String topic, int required, boolean verify) {
        return admin.describeTopics(List.of(topic)).allTopicNames().toCompletionStage().toCompletableFuture()
                .thenApply(descriptions -> {
                    TopicDescription d = descriptions.get(topic);
                    int actual = d.partitions().size();
                    if (verify && actual < required) {
                        throw new TopicPartitionsException(topic, actual, required);
                    }
                    return actual;
                })
                // It may have been created a moment ago, by another process.
                .thenCompose(actual -> awaitLeaders(topic, actual));
    }

    /**
     * Completes with {@code partitions} once every partition of the topic has a leader in the metadata
     * and each leader answers a request for the partition's end offset; retries while the answer is a
     * retriable error (the topic not yet in the metadata, a partition not yet online on its leader),
     * with a backoff from 10 ms doubling to 500 ms, for at most the operation timeout. The metadata is
     * awaited first because the admin client logs a topic unknown to the metadata at ERROR level.
     */
    private CompletableFuture<Integer> awaitLeaders(String topic, int partitions) {
        Map<TopicPartition, OffsetSpec> ends = new java.util.HashMap<>();
        for (int p = 0; p < partitions; p++) {
            ends.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        long deadline = System.nanoTime() + config.operationTimeout().toNanos();
        return retrying(deadline, 10, () -> admin.describeTopics(List.of(topic)).allTopicNames()
                .thenApply(d -> {
                    for (var p : d.get(topic).partitions()) {
                        if (p.leader() == null || p.leader().isEmpty()) {
                            throw new LeaderNotAvailableException("partition " + p.partition() + " has no leader yet");
                        }
                    }
                    return d;
                }))
                .thenCompose(d -> retrying(deadline, 10,
                        () -> admin.listOffsets(ends, new ListOffsetsOptions().timeoutMs(remainingMs(deadline))).all()))
                .handle((ok, error) -> {
                    if (error != null) {
                        Throwable cause = unwrap(error);
                        throw new CourierException("the partitions of Kafka topic '" + topic + "' did not all come online on"
                                + " their leaders within " + config.operationTimeout() + ": " + cause, cause);
                    }
                    return partitions;
                });
    }

    /** Runs {@code call} until it succeeds, fails with a non-retriable error, or the deadline passes. */
    private static <T> CompletableFuture<T> retrying(long deadline, long backoffMs,
                                                     java.util.function.Supplier<org.apache.kafka.common.KafkaFuture<T>> call) {
        CompletableFuture<T> result = new CompletableFuture<>();
        attempt(deadline, backoffMs, call, result);
        return result;
    }

    private static <T> void attempt(long deadline, long backoffMs,
                                    java.util.function.Supplier<org.apache.kafka.common.KafkaFuture<T>> call, CompletableFuture<T> result) {
        call.get().whenComplete((value, error) -> {
            if (error == null) {
                result.complete(value);
                return;
            }
            Throwable cause = unwrap(error);
            if (cause instanceof RetriableException && System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoffMs) < deadline) {
                CompletableFuture.delayedExecutor(backoffMs, TimeUnit.MILLISECONDS)
                        .execute(() -> attempt(deadline, Math.min(500, backoffMs * 2), call, result));
            } else {
                result.completeExceptionally(cause);
            }
        });
    }

    private static int remainingMs(long deadline) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
