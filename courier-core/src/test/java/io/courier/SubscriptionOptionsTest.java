package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class SubscriptionOptionsTest {

    private static SubscriptionOptions build(UnaryOperator<SubscriptionOptions.Builder> settings) {
        return settings.apply(SubscriptionOptions.builder("t", "g")).build();
    }

    private static void rejected(UnaryOperator<SubscriptionOptions.Builder> settings, String message) {
        assertThatThrownBy(() -> build(settings)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    @Test
    void defaultsAreDocumentedAndTheBuilderRoundTrips() {
        SubscriptionOptions o = SubscriptionOptions.of("t", "g");

        assertThat(o.concurrency()).isEqualTo(SubscriptionOptions.DEFAULT_CONCURRENCY);
        assertThat(o.maxInFlight()).isEqualTo(2 * SubscriptionOptions.DEFAULT_CONCURRENCY);
        assertThat(o.leaseTimeout()).isEqualTo(SubscriptionOptions.DEFAULT_LEASE_TIMEOUT);
        assertThat(o.failureRedeliveryDelay()).isEqualTo(SubscriptionOptions.DEFAULT_FAILURE_REDELIVERY_DELAY);
        assertThat(o.shutdownTimeout()).isEqualTo(SubscriptionOptions.DEFAULT_SHUTDOWN_TIMEOUT);
        assertThat(o.startPosition()).isEqualTo(StartPosition.EARLIEST);
        assertThat(o.consumerName()).isEmpty();

        SubscriptionOptions changed = o.toBuilder().concurrency(8).consumerName("c-1").build();
        assertThat(changed.toBuilder().build()).isEqualTo(changed).hasSameHashCodeAs(changed);
        assertThat(changed).isNotEqualTo(o);
        assertThat(changed.toString()).contains("concurrency=8", "consumerName=Optional[c-1]");
    }

    @Test
    void theLimitsThemselvesAreAccepted() {
        SubscriptionOptions o = build(b -> b.concurrency(SubscriptionOptions.MAX_CONCURRENCY)
                .maxInFlight(SubscriptionOptions.MAX_IN_FLIGHT)
                .leaseTimeout(SubscriptionOptions.MIN_LEASE_TIMEOUT)
                .failureRedeliveryDelay(Duration.ZERO)
                .shutdownTimeout(SubscriptionOptions.MAX_TIMEOUT));

        assertThat(o.concurrency()).isEqualTo(4096);
        assertThat(o.maxInFlight()).isEqualTo(65_536);
        assertThat(o.leaseTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(build(b -> b.concurrency(1).maxInFlight(1).leaseTimeout(Duration.ofHours(24))).maxInFlight()).isEqualTo(1);
    }

    @Test
    void concurrencyAndMaxInFlightAreBounded() {
        rejected(b -> b.concurrency(0), "concurrency must be between 1 and 4096, but was 0");
        rejected(b -> b.concurrency(100_000), "concurrency must be between 1 and 4096, but was 100000");
        rejected(b -> b.concurrency(4).maxInFlight(2), "maxInFlight must be between concurrency (4) and 65536, but was 2");
        rejected(b -> b.maxInFlight(Integer.MAX_VALUE),
                "maxInFlight must be between concurrency (4) and 65536, but was 2147483647");
    }

    /**
     * A 1 ms lease expired before the handler started: the SQL transport on PostgreSQL delivered
     * nothing for seconds, SQLite and the in-memory transport ran one message many times at once.
     */
    @Test
    void aLeaseShorterThanOneSecondIsRejected() {
        rejected(b -> b.leaseTimeout(Duration.ofMillis(1)), "leaseTimeout must be between PT1S and PT24H, but was PT0.001S");
        rejected(b -> b.leaseTimeout(Duration.ofMillis(999)), "leaseTimeout must be between PT1S and PT24H, but was PT0.999S");
        rejected(b -> b.leaseTimeout(Duration.ZERO), "leaseTimeout must be between PT1S and PT24H, but was PT0S");
        rejected(b -> b.leaseTimeout(Duration.ofDays(2)), "leaseTimeout must be between PT1S and PT24H, but was PT48H");
        assertThatThrownBy(() -> build(b -> b.leaseTimeout(null))).isInstanceOf(NullPointerException.class)
                .hasMessage("leaseTimeout");
    }

    @Test
    void negativeOrAbsurdDelaysAndTimeoutsAreRejected() {
        rejected(b -> b.failureRedeliveryDelay(Duration.ofMillis(-1)),
                "failureRedeliveryDelay must be between PT0S and PT24H, but was PT-0.001S");
        rejected(b -> b.failureRedeliveryDelay(Duration.ofSeconds(Long.MAX_VALUE)),
                "failureRedeliveryDelay must be between PT0S and PT24H, but was PT2562047788015215H30M7S");
        rejected(b -> b.shutdownTimeout(Duration.ofSeconds(-1)), "shutdownTimeout must be between PT0S and PT24H, but was PT-1S");
        rejected(b -> b.shutdownTimeout(Duration.ofDays(365)), "shutdownTimeout must be between PT0S and PT24H, but was PT8760H");
    }

    @Test
    void namesMustNotBeBlankOrTooLong() {
        assertThatThrownBy(() -> SubscriptionOptions.of(" ", "g")).hasMessage("topic must not be blank, but was ' '");
        assertThatThrownBy(() -> SubscriptionOptions.of("t", "")).hasMessage("group must not be blank, but was ''");
        assertThatThrownBy(() -> SubscriptionOptions.of("t".repeat(201), "g"))
                .hasMessage("topic must be at most 200 characters, but was 201");
        rejected(b -> b.consumerName(""), "consumerName must not be blank, but was ''");
        assertThat(build(b -> b.consumerName(null)).consumerName()).isEmpty();
    }

    /** Two option types of two imaginary transports. */
    private record AlphaOption(int level) implements TransportOption {
    }

    private record BetaOption(String mode) implements TransportOption {
    }

    @Test
    void orderingDefaultsToTheTransportsOwnAndIsCarried() {
        assertThat(SubscriptionOptions.of("t", "g").ordering()).isEqualTo(MessageOrdering.TRANSPORT_DEFAULT);
        SubscriptionOptions keyed = build(b -> b.ordering(MessageOrdering.KEY));
        assertThat(keyed.ordering()).isEqualTo(MessageOrdering.KEY);
        assertThat(keyed.toBuilder().build()).isEqualTo(keyed).hasSameHashCodeAs(keyed);
        assertThat(keyed).isNotEqualTo(SubscriptionOptions.of("t", "g"));
        assertThat(keyed.toString()).contains("ordering=KEY");
        assertThatThrownBy(() -> build(b -> b.ordering(null))).isInstanceOf(NullPointerException.class).hasMessage("ordering");
    }

    @Test
    void transportOptionsAreLookedUpByTypeAndAbsentByDefault() {
        SubscriptionOptions plain = SubscriptionOptions.of("t", "g");
        assertThat(plain.transportOptions()).isEmpty();
        assertThat(plain.option(AlphaOption.class)).isEmpty();

        SubscriptionOptions o = build(b -> b.with(new AlphaOption(3)).with(new BetaOption("fast")));
        assertThat(o.option(AlphaOption.class)).contains(new AlphaOption(3));
        assertThat(o.option(BetaOption.class)).contains(new BetaOption("fast"));
        assertThat(o.option(TransportOption.class)).as("looked up by a supertype: the first attached")
                .contains(new AlphaOption(3));
        assertThat(o.transportOptions()).containsExactly(new AlphaOption(3), new BetaOption("fast"));
        assertThatThrownBy(() -> o.transportOptions().add(new AlphaOption(1)))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> build(b -> b.with(null))).isInstanceOf(NullPointerException.class).hasMessage("option");
    }

    @Test
    void anOptionOfTheSameTypeReplacesTheEarlierOne() {
        SubscriptionOptions o = build(b -> b.with(new AlphaOption(1)).with(new BetaOption("x")).with(new AlphaOption(2)));
        assertThat(o.transportOptions()).containsExactly(new AlphaOption(2), new BetaOption("x"));
        SubscriptionOptions derived = o.toBuilder().with(new AlphaOption(5)).build();
        assertThat(derived.option(AlphaOption.class)).contains(new AlphaOption(5));
        assertThat(o.option(AlphaOption.class)).as("the original is unchanged by its builder").contains(new AlphaOption(2));
    }

    @Test
    void transportOptionsTakePartInEqualsHashCodeAndToString() {
        SubscriptionOptions a = build(b -> b.with(new AlphaOption(1)).with(new BetaOption("x")));
        SubscriptionOptions sameInOtherOrder = build(b -> b.with(new BetaOption("x")).with(new AlphaOption(1)));
        SubscriptionOptions other = build(b -> b.with(new AlphaOption(2)).with(new BetaOption("x")));

        assertThat(a).isEqualTo(sameInOtherOrder).hasSameHashCodeAs(sameInOtherOrder);
        assertThat(a).isNotEqualTo(other).isNotEqualTo(SubscriptionOptions.of("t", "g"));
        assertThat(a.hashCode()).isNotEqualTo(other.hashCode());
        assertThat(a.toBuilder().build()).isEqualTo(a);
        assertThat(a.toString()).contains("transportOptions=[AlphaOption[level=1], BetaOption[mode=x]]");
    }
}
