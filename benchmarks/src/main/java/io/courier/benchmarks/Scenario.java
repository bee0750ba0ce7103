package io.courier.benchmarks;

import java.util.Objects;

/**
 * A named benchmark: Courier and a reference implementation of the same durable work.
 *
 * @param name          the name given on the command line, e.g. {@code sqlite-e2e-100b}
 * @param description   one line for the report
 * @param reference     what the reference is, e.g. {@code raw JDBC (sqlite-jdbc)}
 * @param payloadBytes  payload size
 * @param publishers    publishing threads (same for both sides)
 * @param batchSize     messages per publish call in the throughput phase (same for both sides)
 * @param courier       builds the Courier pipeline
 * @param raw           builds the reference pipeline
 * @param maxLatencyRate highest rate (messages/s) for the latency phase, 0 for none. The latency phase
 *                      publishes one message per call from {@code publishers} threads, so a rate above
 *                      what {@code publishers} synchronous round trips allow only measures queueing in
 *                      the publishers; transports with a network round trip per publish set a cap.
 */
public record Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                       int batchSize, PipelineFactory courier, PipelineFactory raw, double maxLatencyRate) {

    /** Validates. */
    public Scenario {
        Objects.requireNonNull(name, "name");
        if (payloadBytes < Driver.HEADER_BYTES) {
            throw new IllegalArgumentException("payloadBytes must be >= " + Driver.HEADER_BYTES + ", but was " + payloadBytes);
        }
        if (maxLatencyRate < 0) {
            throw new IllegalArgumentException("maxLatencyRate must be >= 0, but was " + maxLatencyRate);
        }
    }

    /** A scenario whose latency phase runs at half the slower side's throughput, uncapped. */
    public Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                    int batchSize, PipelineFactory courier, PipelineFactory raw) {
        this(name, description, reference, payloadBytes, publishers, batchSize, courier, raw, 0);
    }

    /** Creates a fresh pipeline (with fresh topics/tables) for one phase. */
    @FunctionalInterface
    public interface PipelineFactory {
        /** Builds the pipeline; {@code runId} is unique per phase for naming topics and tables. */
        Pipeline create(String runId) throws Exception;
    }
}
