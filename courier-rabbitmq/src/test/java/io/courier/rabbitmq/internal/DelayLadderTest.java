package io.courier.rabbitmq.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** How delays become routing keys; no broker needed. */
class DelayLadderTest {

    private final DelayLadder ladder = new DelayLadder("courier.delay");

    @Test
    void delayIsRoundedUpToTicksAndWrittenInBinaryFromTheHighestLevel() {
        DelayLadder.Hop hop = ladder.route(Duration.ofMillis(1001), "q-x");
        // 1001 ms -> 11 ticks = 0b1011: levels 3, 1 and 0
        assertThat(hop.delay()).isEqualTo(Duration.ofMillis(1100));
        assertThat(hop.exchange()).isEqualTo("courier.delay.L03");
        assertThat(hop.routingKey()).isEqualTo("0.".repeat(22) + "1.0.1.1.q-x");
    }

    @Test
    void zeroAndNegativeDelaysNeedNoLadder() {
        assertThat(ladder.route(Duration.ZERO, "t")).isNull();
        assertThat(ladder.route(Duration.ofSeconds(-1), "t")).isNull();
    }

    @Test
    void theLongestDelayUsesEveryLevelAndLongerIsRefused() {
        DelayLadder.Hop hop = ladder.route(DelayLadder.MAX_DELAY, "t");
        assertThat(hop.exchange()).isEqualTo("courier.delay.L25");
        assertThat(hop.routingKey()).isEqualTo("1.".repeat(26) + "t");
        assertThat(DelayLadder.MAX_DELAY).isGreaterThan(Duration.ofDays(77));
        assertThatThrownBy(() -> ladder.route(DelayLadder.MAX_DELAY.plusMillis(1), "t"))
                .hasMessageContaining("delay must be at most");
    }

    @Test
    void tokensAreSingleTopicWordsAndDistinguishSimilarNames() {
        String a = DelayLadder.queueToken("orders.created.billing");
        String b = DelayLadder.queueToken("orders_created_billing");
        assertThat(a).doesNotContain(".").doesNotContain("*").doesNotContain("#").startsWith("q-orders_created_billing-");
        assertThat(a).isNotEqualTo(b);
        assertThat(DelayLadder.topicToken("a*b#c")).matches("t-a_b_c-[0-9a-f]{12}");
        assertThat(ladder.deliveryBindingKey("q-x")).isEqualTo("*.".repeat(26) + "q-x");
    }
}
