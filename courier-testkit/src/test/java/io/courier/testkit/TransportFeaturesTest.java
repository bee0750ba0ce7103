package io.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TransportFeaturesTest {

    @Test
    void defaultsDeclareOnlyConsumerGroups() {
        TransportFeatures f = TransportFeatures.builder().build();
        assertThat(f.consumerGroups()).isTrue();
        assertThat(f.persistent() || f.survivesRestart() || f.crossProcess() || f.delayedDelivery() || f.keyOrdering()
                || f.partitionedConsumers() || f.connectionFaults()).isFalse();
        assertThat(f.maxPayloadBytes()).isEqualTo(TransportFeatures.NO_PAYLOAD_LIMIT);
        assertThat(f.leaseTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(f.awaitTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(f.toBuilder().build()).isEqualTo(f);
    }

    @Test
    void inconsistentDeclarationsAreRefusedWithPreciseMessages() {
        assertThatThrownBy(() -> TransportFeatures.builder().survivesRestart(true).build())
                .hasMessage("survivesRestart requires persistent, but persistent was false");
        assertThatThrownBy(() -> TransportFeatures.builder().crossProcess(true).build())
                .hasMessage("crossProcess requires persistent, but persistent was false");
        assertThatThrownBy(() -> TransportFeatures.builder().maxPayloadBytes(-1).build())
                .hasMessage("maxPayloadBytes must be >= 0 (0 = no limit), but was -1");
        assertThatThrownBy(() -> TransportFeatures.builder().leaseTimeout(Duration.ZERO).build())
                .hasMessage("leaseTimeout must be > 0, but was PT0S");
    }
}
