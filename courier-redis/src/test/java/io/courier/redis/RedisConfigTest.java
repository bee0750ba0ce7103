package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Validation and defaults of the configuration; no Redis needed. */
class RedisConfigTest {

    @Test
    void defaultsAreDocumentedConstants() {
        RedisConfig c = RedisConfig.defaults();
        assertThat(c.uri()).isEqualTo(RedisConfig.DEFAULT_URI);
        assertThat(c.keyPrefix()).isEqualTo("courier:");
        assertThat(c.maxDeliveries()).isEqualTo(RedisConfig.DEFAULT_MAX_DELIVERIES);
        assertThat(c.blockTimeout()).isEqualTo(RedisConfig.DEFAULT_BLOCK_TIMEOUT);
        assertThat(c.defaultTrim()).isEqualTo(StreamTrim.none());
        assertThat(c.waitReplicas()).isZero();
        assertThat(c.verifyPeer()).isTrue();
        assertThat(c.keyOrdering()).isFalse();
    }

    @Test
    void invalidValuesAreRefusedWithWhatWasExpectedAndGiven() {
        assertThatThrownBy(() -> RedisConfig.builder().maxDeliveries(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxDeliveries must be >= 1, but was 0");
        assertThatThrownBy(() -> RedisConfig.builder().port(70000))
                .hasMessage("port must be in 1..65535, but was 70000");
        assertThatThrownBy(() -> RedisConfig.builder().uri("http://localhost"))
                .hasMessageContaining("uri must start with redis://");
        assertThatThrownBy(() -> RedisConfig.builder().keyPrefix("a{b"))
                .hasMessage("keyPrefix must not contain '{' or '}', but was 'a{b'");
        assertThatThrownBy(() -> RedisConfig.builder().blockTimeout(Duration.ZERO))
                .hasMessageContaining("blockTimeout must be between");
        assertThatThrownBy(() -> RedisConfig.builder().blockTimeout(Duration.ofSeconds(20)).commandTimeout(Duration.ofSeconds(5)).build())
                .hasMessage("blockTimeout must be < commandTimeout (PT5S), but was PT20S");
        assertThatThrownBy(() -> StreamTrim.maxLength(0)).hasMessage("maxLength must be >= 1, but was 0");
        assertThatThrownBy(() -> RedisConfig.builder().readBatchSize(0)).hasMessage("readBatchSize must be in 1..10000, but was 0");
        assertThatThrownBy(() -> RedisConfig.builder().claimBatchSize(100_000)).hasMessage("claimBatchSize must be in 1..10000, but was 100000");
        assertThatThrownBy(() -> RedisConfig.builder().moveBatchSize(Integer.MAX_VALUE))
                .hasMessage("moveBatchSize must be in 1..10000, but was 2147483647");
        assertThatThrownBy(() -> RedisConfig.builder().maxPayloadBytes(Integer.MAX_VALUE))
                .hasMessage("maxPayloadBytes must be in 1..536870912, but was 2147483647");
        assertThatThrownBy(() -> StreamTrim.maxAge(Duration.ZERO)).hasMessage("maxAge must be > 0, but was PT0S");
    }

    @Test
    void passwordsNeverAppearInToString() {
        RedisConfig c = RedisConfig.builder().uri("redis://app:uri-secret@redis:6379/1").credentials("app", "builder-secret").build();
        assertThat(c.toString()).doesNotContain("uri-secret").doesNotContain("builder-secret").contains("password=***");
    }

    @Test
    void toBuilderKeepsEveryValueAndPerTopicTrimOverridesTheDefault() {
        RedisConfig c = RedisConfig.builder().keyPrefix("x:").defaultTrim(StreamTrim.maxLength(100))
                .trim("clicks", StreamTrim.maxAge(Duration.ofDays(1)).exact()).maxDeliveries(3).keyOrdering(true).build();
        RedisConfig copy = c.toBuilder().build();
        assertThat(copy.toString()).isEqualTo(c.toString());
        assertThat(copy.keyOrdering()).isTrue();
        assertThat(copy.trimFor("clicks")).isEqualTo(new StreamTrim(StreamTrim.Mode.MAX_AGE, 0, Duration.ofDays(1), false));
        assertThat(copy.trimFor("orders")).isEqualTo(StreamTrim.maxLength(100));
    }
}
