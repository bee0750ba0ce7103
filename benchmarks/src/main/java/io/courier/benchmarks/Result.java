package io.courier.benchmarks;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * One scenario's figures, as written to {@code docs/benchmarks/latest.json}. Throughput figures are
 * the medians of the rounds; the ratio is median Courier / median reference; CPU is this process's
 * CPU time (all threads, the broker not included) per message over the throughput rounds. MB/s is
 * payload bytes only (MB = 2^20 bytes, as Kafka's ProducerPerformance counts). The probe rates are
 * each side's end-to-end rate with one message per publish, from which the latency rate is chosen.
 * A scenario that failed is written as a map with an {@code error} field instead (see {@link Bench}).
 */
record Result(
        @JsonProperty("scenario") String scenario,
        @JsonProperty("description") String description,
        @JsonProperty("payload_bytes") int payloadBytes,
        @JsonProperty("seconds") int seconds,
        @JsonProperty("rounds") int rounds,
        @JsonProperty("warmup_seconds") int warmupSeconds,
        @JsonProperty("courier_per_s") double courierPerSec,
        @JsonProperty("courier_publish_per_s") double courierPublishPerSec,
        @JsonProperty("reference") String reference,
        @JsonProperty("reference_per_s") double referencePerSec,
        @JsonProperty("reference_publish_per_s") double referencePublishPerSec,
        @JsonProperty("ratio") double ratio,
        @JsonProperty("courier_mb_per_s") double courierMbPerSec,
        @JsonProperty("reference_mb_per_s") double referenceMbPerSec,
        @JsonProperty("courier_rounds_per_s") List<Double> courierRoundsPerSec,
        @JsonProperty("reference_rounds_per_s") List<Double> referenceRoundsPerSec,
        @JsonProperty("courier_cpu_us_per_msg") double courierCpuMicrosPerMessage,
        @JsonProperty("reference_cpu_us_per_msg") double referenceCpuMicrosPerMessage,
        @JsonProperty("courier_probe_per_s") double courierProbePerSec,
        @JsonProperty("reference_probe_per_s") double referenceProbePerSec,
        @JsonProperty("latency_rate_per_s") double latencyRatePerSec,
        @JsonProperty("courier_p50_ms") double courierP50Ms,
        @JsonProperty("courier_p99_ms") double courierP99Ms,
        @JsonProperty("reference_p50_ms") double referenceP50Ms,
        @JsonProperty("reference_p99_ms") double referenceP99Ms,
        @JsonProperty("machine") Map<String, Object> machine) {

    /** Payload megabytes (2^20 bytes) per second at {@code perSec} messages of {@code payloadBytes}. */
    static double mbPerSec(double perSec, int payloadBytes) {
        return Math.round(perSec * payloadBytes / (1024.0 * 1024.0) * 100) / 100.0;
    }
}
