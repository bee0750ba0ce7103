package io.courier.benchmarks;

import java.util.List;
import java.util.function.Consumer;

/**
 * One system under test: something that durably publishes payloads and delivers them to a consumer.
 * A scenario has two: Courier, and the raw client doing the same durable work with the same settings.
 *
 * <p>{@link #publish} must return only once the batch is durable (commit, confirm, ack), exactly as
 * Courier's publish futures promise. The consumer must be called once per delivered payload, after
 * which the pipeline acknowledges it the way a Courier handler returning normally would.
 *
 * <p>The pipelines of a {@linkplain Scenario#publishOnly() publish-only} scenario consume nothing:
 * their {@link #start} only prepares publishing (topic created and known to the client) and never
 * calls {@code onMessage}.
 */
public interface Pipeline extends AutoCloseable {

    /**
     * Starts consuming; {@code onMessage} is called from consumer threads with each payload. Called
     * before the phase's clock starts.
     */
    void start(Consumer<byte[]> onMessage) throws Exception;

    /** Publishes a batch and returns once it is durable. Called from several threads at once. */
    void publish(List<byte[]> batch) throws Exception;

    /** Stops consuming and releases everything. */
    @Override
    void close() throws Exception;
}
