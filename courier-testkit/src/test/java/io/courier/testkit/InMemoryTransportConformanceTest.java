package io.courier.testkit;

import io.courier.Transport;
import io.courier.memory.InMemoryTransport;

/**
 * The in-memory transport against the conformance suite. It keeps everything in one JVM's heap, so
 * it declares no persistence, no restart and no cross-process use; it has delayed delivery and
 * per-key ordering.
 */
class InMemoryTransportConformanceTest extends TransportConformanceSuite {

    private static final int MAX_PAYLOAD_BYTES = 64 * 1024;

    @Override
    protected Transport createTransport() {
        return InMemoryTransport.builder().maxPayloadBytes(MAX_PAYLOAD_BYTES).build();
    }

    @Override
    protected TransportFeatures features() {
        return TransportFeatures.builder()
                .persistent(false)
                .survivesRestart(false)
                .crossProcess(false)
                .delayedDelivery(true)
                .keyOrdering(true)
                .maxPayloadBytes(MAX_PAYLOAD_BYTES)
                .build();
    }
}
