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
 */
public record Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                       int batchSize, PipelineFactory courier, PipelineFactory raw) {

    /** Validates. */
    public Scenario {
        Objects.requireNonNull(name, "name");
        if (payloadBytes < Driver.HEADER_BYTES) {
            throw new IllegalArgumentException("payloadBytes must be >= " + Driver.HEADER_BYTES + ", but was " + payloadBytes);
        }
    }

    /** Creates a fresh pipeline (with fresh topics/tables) for one phase. */
    @FunctionalInterface
    public interface PipelineFactory {
        /** Builds the pipeline; {@code runId} is unique per phase for naming topics and tables. */
        Pipeline create(String runId) throws Exception;
    }
}
