package io.courier.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.MessageOrdering;
import io.courier.SubscriptionOptions;
import io.courier.TransportOption;
import org.junit.jupiter.api.Test;

/**
 * Which Kafka settings a subscription runs with, decided at subscribe before anything touches the
 * broker: attached {@link KafkaSubscriptionOptions}, the transport's defaults, and
 * {@link MessageOrdering#KEY}.
 */
class KafkaSubscriptionOptionsResolutionTest {

    private static final KafkaSubscriptionOptions DEFAULTS =
            KafkaSubscriptionOptions.builder().retryMode(RetryMode.IN_PLACE).build();

    private record RedisOnlyOption(int n) implements TransportOption {
    }

    @Test
    void withoutAttachedOptionsTheTransportDefaultsApply() {
        assertThat(KafkaTransport.kafkaOptions(SubscriptionOptions.of("orders", "billing"), DEFAULTS)).isSameAs(DEFAULTS);
    }

    @Test
    void attachedOptionsWinOverTheDefaults() {
        KafkaSubscriptionOptions attached = KafkaSubscriptionOptions.builder().ordering(Ordering.KEY).build();
        SubscriptionOptions options = SubscriptionOptions.builder("orders", "billing").with(attached).build();

        assertThat(KafkaTransport.kafkaOptions(options, DEFAULTS)).isEqualTo(attached);
    }

    @Test
    void keyOrderingWithoutAttachedOptionsSelectsKeyLanesKeepingTheDefaultRetryMode() {
        SubscriptionOptions options = SubscriptionOptions.builder("orders", "billing").ordering(MessageOrdering.KEY).build();

        assertThat(KafkaTransport.kafkaOptions(options, DEFAULTS))
                .isEqualTo(new KafkaSubscriptionOptions(RetryMode.IN_PLACE, Ordering.KEY));
    }

    @Test
    void keyOrderingWithAttachedOptionsKeepsTheirOrderingBecauseBothKeepKeyOrder() {
        KafkaSubscriptionOptions partition = KafkaSubscriptionOptions.builder().ordering(Ordering.PARTITION).build();
        SubscriptionOptions options = SubscriptionOptions.builder("orders", "billing")
                .ordering(MessageOrdering.KEY).with(partition).build();

        assertThat(KafkaTransport.kafkaOptions(options, DEFAULTS)).isEqualTo(partition);
    }

    @Test
    void anOptionOfAnotherTransportIsRefusedNamingItAndKafka() {
        SubscriptionOptions options = SubscriptionOptions.builder("orders", "billing")
                .with(KafkaSubscriptionOptions.defaults()).with(new RedisOnlyOption(1)).build();

        assertThatThrownBy(() -> KafkaTransport.kafkaOptions(options, DEFAULTS))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the kafka transport does not understand the transport option "
                        + RedisOnlyOption.class.getName())
                .hasMessageContaining("it understands " + KafkaSubscriptionOptions.class.getName());
    }
}
