package io.courier.kafka.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DelayLadderTest {

    private final DelayLadder ladder = new DelayLadder("courier.delay.");

    @Test
    void picksTheLargestStepNotLongerThanWhatRemains() {
        assertThat(ladder.stepFor(Duration.ofMillis(300)).name()).as("below the smallest step").isEqualTo("1s");
        assertThat(ladder.stepFor(Duration.ofSeconds(1)).name()).isEqualTo("1s");
        assertThat(ladder.stepFor(Duration.ofSeconds(29)).name()).isEqualTo("5s");
        assertThat(ladder.stepFor(Duration.ofSeconds(60)).name()).isEqualTo("30s");
        assertThat(ladder.stepFor(Duration.ofMinutes(90)).name()).isEqualTo("1h");
        assertThat(ladder.stepFor(Duration.ofDays(3)).name()).isEqualTo("6h");
        assertThat(ladder.topics()).startsWith("courier.delay.1s").endsWith("courier.delay.6h");
        assertThat(ladder.isStepTopic("courier.delay.30s")).isTrue();
        assertThat(ladder.steps()).allSatisfy(s -> assertThat(s.retention()).isGreaterThanOrEqualTo(s.delay().multipliedBy(4)));
    }
}
