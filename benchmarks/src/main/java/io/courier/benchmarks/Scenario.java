package io.courier.benchmarks;

import java.util.Map;
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
 *                      runs at half the slower side's single-message rate (measured by a probe); the cap
 *                      keeps it lower where that rate is known to be noisy.
 * @param extra         a further reference run once per scenario after the latency phase (a vendor's
 *                      own benchmark tool, for example), or null
 */
public record Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                       int batchSize, PipelineFactory courier, PipelineFactory raw, double maxLatencyRate,
                       ExtraReference extra) {

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

    /** A scenario with a latency-rate cap and no extra reference. */
    public Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                    int batchSize, PipelineFactory courier, PipelineFactory raw, double maxLatencyRate) {
        this(name, description, reference, payloadBytes, publishers, batchSize, courier, raw, maxLatencyRate, null);
    }

    /** A scenario whose latency phase runs at half the slower side's single-message rate, uncapped. */
    public Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                    int batchSize, PipelineFactory courier, PipelineFactory raw) {
        this(name, description, reference, payloadBytes, publishers, batchSize, courier, raw, 0, null);
    }

    /** Creates a fresh pipeline (with fresh topics/tables) for one phase. */
    @FunctionalInterface
    public interface PipelineFactory {
        /** Builds the pipeline; {@code runId} is unique per phase for naming topics and tables. */
        Pipeline create(String runId) throws Exception;
    }

    /** A reference that is not a {@link Pipeline}: run once per scenario, its figures added to the result. */
    public interface ExtraReference {
        /** The prefix of its fields in the result, e.g. {@code producer_performance}; a failure is {@code <key>_error}. */
        String key();

        /**
         * Runs it and returns the fields to add to the scenario's result (names prefixed with the
         * reference's name). {@code courierPublished} is how many messages Courier published in its
         * median throughput round, for tools that need a message count.
         */
        Map<String, Object> run(Scenario s, long courierPublished) throws Exception;
    }
}
