package io.courier.spi;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.MessageOrdering;
import io.courier.SubscriptionOptions;
import io.courier.TransportOption;
import org.junit.jupiter.api.Test;

class SubscriptionChecksTest {

    private record KnownOption(int n) implements TransportOption {
    }

    private record ForeignOption(String s) implements TransportOption {
    }

    @Test
    void optionsOfUnderstoodTypesPass() {
        SubscriptionOptions o = SubscriptionOptions.builder("orders", "billing").with(new KnownOption(1)).build();
        assertThatCode(() -> SubscriptionChecks.requireUnderstoodOptions(o, "alpha", KnownOption.class))
                .doesNotThrowAnyException();
        assertThatCode(() -> SubscriptionChecks.requireUnderstoodOptions(SubscriptionOptions.of("t", "g"), "alpha"))
                .doesNotThrowAnyException();
    }

    @Test
    void anOptionNotUnderstoodIsRefusedNamingItTheTransportAndTheSubscription() {
        SubscriptionOptions o = SubscriptionOptions.builder("orders", "billing")
                .with(new KnownOption(1)).with(new ForeignOption("kafka-only")).build();

        assertThatThrownBy(() -> SubscriptionChecks.requireUnderstoodOptions(o, "alpha", KnownOption.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the alpha transport does not understand the transport option " + ForeignOption.class.getName()
                        + " (ForeignOption[s=kafka-only]) of the subscription to topic 'orders', group 'billing'; it"
                        + " understands " + KnownOption.class.getName()
                        + ". Remove the option, or subscribe on the transport it belongs to");
        assertThatThrownBy(() -> SubscriptionChecks.requireUnderstoodOptions(o, "beta"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the beta transport does not understand the transport option " + KnownOption.class.getName())
                .hasMessageContaining("it understands no transport options");
    }

    @Test
    void keyOrderingIsRefusedWithTheWayToEnableIt() {
        SubscriptionOptions keyed = SubscriptionOptions.builder("orders", "billing").ordering(MessageOrdering.KEY).build();

        assertThatThrownBy(() -> SubscriptionChecks.refuseKeyOrdering(keyed, "alpha", "turn it on with Alpha.keyOrdering()"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the subscription to topic 'orders', group 'billing' asks for ordering MessageOrdering.KEY, but this"
                        + " alpha transport does not keep per-key order: turn it on with Alpha.keyOrdering()");
        assertThatCode(() -> SubscriptionChecks.refuseKeyOrdering(SubscriptionOptions.of("t", "g"), "alpha", "x"))
                .doesNotThrowAnyException();
    }
}
