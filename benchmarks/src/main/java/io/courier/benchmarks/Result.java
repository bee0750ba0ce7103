package io.courier.benchmarks;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/** One scenario's figures, as written to {@code docs/benchmarks/latest.json}. */
record Result(
        @JsonProperty("scenario") String scenario,
        @JsonProperty("description") String description,
        @JsonProperty("payload_bytes") int payloadBytes,
        @JsonProperty("seconds") int seconds,
        @JsonProperty("courier_per_s") double courierPerSec,
        @JsonProperty("courier_publish_per_s") double courierPublishPerSec,
        @JsonProperty("reference") String reference,
        @JsonProperty("reference_per_s") double referencePerSec,
        @JsonProperty("reference_publish_per_s") double referencePublishPerSec,
        @JsonProperty("ratio") double ratio,
        @JsonProperty("latency_rate_per_s") double latencyRatePerSec,
        @JsonProperty("courier_p50_ms") double courierP50Ms,
        @JsonProperty("courier_p99_ms") double courierP99Ms,
        @JsonProperty("reference_p50_ms") double referenceP50Ms,
        @JsonProperty("reference_p99_ms") double referenceP99Ms,
        @JsonProperty("machine") Map<String, Object> machine) {
}
