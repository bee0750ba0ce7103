package io.courier.rabbitmq.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** How delays become routing keys; no broker needed. */
class DelayLadderTest {

    private final DelayLadder ladder = new DelayLadder("courier.delay");

    @Test
    void delayLessTheLeadIsRoundedDownToTicksAndWrittenInBinaryFromTheHighestLevel() {
        DelayLadder.Hop hop = ladder.route(Duration.ofMillis(1201), "q-x");
        // 1201 ms - 50 ms lead -> 11 ticks = 0b1011: levels 3, 1 and 0
        assertThat(hop.delay()).isEqualTo(Duration.ofMillis(1100));
        assertThat(hop.exchange()).isEqualTo("courier.delay.L03");
        assertThat(hop.routingKey()).isEqualTo("0.".repeat(22) + "1.0.1.1.q-x");
    }

    @Test
    void theLadderHandsMessagesOverBeforeTheyAreDueSoTheConsumerCanHoldThemUntilDue() {
        for (long ms : new long[] {151, 1030, 1260, 2000, 2049, 2050, 2310, 3199}) {
            Duration delay = Duration.ofMillis(ms);
            DelayLadder.Hop hop = ladder.route(delay, "q-x");
            // never later than due less the lead (the ladder's own latency must not make it late) ...
            assertThat(hop.delay()).as("ladder part of %d ms", ms).isLessThanOrEqualTo(delay.minus(DelayLadder.LEAD));
            // ... and never earlier than the consumer is prepared to hold it
            assertThat(hop.delay()).as("ladder part of %d ms", ms).isGreaterThan(delay.minus(DelayLadder.MAX_HOLD));
        }
        // too short for the ladder: published directly, held by the consumer
        assertThat(ladder.route(Duration.ofMillis(149), "q-x")).isNull();
        assertThat(ladder.route(Duration.ofMillis(1), "q-x")).isNull();
    }

    @Test
    void aConsumerHoldsAnEarlyMessageUntilDueButNeverLongerThanTheLadderCanBeEarly() {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        assertThat(DelayLadder.holdUntil(null, now)).isNull();
        assertThat(DelayLadder.holdUntil(now, now)).isNull();
        assertThat(DelayLadder.holdUntil(now.minusMillis(5), now)).isNull();
        assertThat(DelayLadder.holdUntil(now.plusMillis(37), now)).isEqualTo(now.plusMillis(37));
        assertThat(DelayLadder.holdUntil(now.plus(DelayLadder.MAX_HOLD), now)).isEqualTo(now.plus(DelayLadder.MAX_HOLD));
        // a publisher clock far ahead must not stall messages
        assertThat(DelayLadder.holdUntil(now.plusSeconds(30), now)).isEqualTo(now.plus(DelayLadder.MAX_HOLD));
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
