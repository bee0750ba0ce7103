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
 *                      own benchmark tool, for example), or null; in a {@code publishOnly} scenario it
 *                      runs in every throughput round instead, alternating with the two pipelines
 * @param publishOnly   whether the scenario measures publishing alone: nothing consumes, a round's rate
 *                      is messages published (each one durable) / time until the last publish returned,
 *                      and there is no probe or latency phase (see {@link Bench})
 */
public record Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                       int batchSize, PipelineFactory courier, PipelineFactory raw, double maxLatencyRate,
                       ExtraReference extra, boolean publishOnly) {

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

    /** An end-to-end scenario (publish while a consumer drains) with an extra reference, or null for none. */
    public Scenario(String name, String description, String reference, int payloadBytes, int publishers,
                    int batchSize, PipelineFactory courier, PipelineFactory raw, double maxLatencyRate,
                    ExtraReference extra) {
        this(name, description, reference, payloadBytes, publishers, batchSize, courier, raw, maxLatencyRate, extra, false);
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
         * reference's name; its rate, messages/s, as {@code <key>_per_s}). {@code messages} is how many
         * messages it should send, for tools that need a count: in an end-to-end scenario as many as
         * Courier published in its median throughput round, in a publish-only round as many as make a
         * round of {@code --seconds} at the rate it (or else Courier) reached last.
         */
        Map<String, Object> run(Scenario s, long messages) throws Exception;
    }
}
