package io.courier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DeliveryCheckerTest {

    @Test
    void completeWhenEverySentIdArrivedDuplicatesOnlyReported() {
        DeliveryChecker c = new DeliveryChecker("orders").sent("a").sent("b");
        c.received("a");
        assertThat(c.allReceived()).isFalse();
        c.received("b");
        c.received("b");
        assertThat(c.allReceived()).isTrue();
        DeliveryChecker.Report r = c.assertComplete();
        assertThat(r.duplicates()).isEqualTo(Map.of("b", 2));
        assertThat(r.deliveries()).isEqualTo(3);
        assertThat(r.toString()).contains("lost=0", "unexpected=0", "duplicates=1", "b=2");
        assertThatThrownBy(c::assertNoDuplicates).hasMessageContaining("{b=2}");
    }

    @Test
    void lostAndUnexpectedFailNamingTheIds() {
        DeliveryChecker c = new DeliveryChecker("orders").sent("a").sent("b");
        c.received("a");
        c.received("stranger");
        assertThat(c.lost()).isEqualTo(Set.of("b"));
        assertThat(c.unexpected()).isEqualTo(Set.of("stranger"));
        assertThatThrownBy(c::assertComplete)
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("1 of 2 sent messages lost [b]")
                .hasMessageContaining("1 unexpected messages received [stranger]");
        assertThatThrownBy(c::assertNoneLost).hasMessageContaining("not received yet: [b]");
    }

    @Test
    void longIdListsAreShortened() {
        DeliveryChecker c = new DeliveryChecker("many");
        for (int i = 0; i < 100; i++) {
            c.sent("id-" + i);
        }
        assertThatThrownBy(c::assertNoneLost).hasMessageContaining("100 of 100").hasMessageContaining(", ...]");
    }
}
