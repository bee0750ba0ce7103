package io.courier.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.PublishException;
import io.courier.testkit.fault.TcpProxy;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What a failed publish says about the message: "may or may not have been stored" when Redis may
 * have run the {@code XADD} (a timeout), "was not published" only when Redis refused it.
 */
class RedisPublishOutcomeTest extends RedisTestSupport {

    @Test
    void aTimedOutPublishSaysItMayHaveBeenStoredAndTheXaddDidRunOnceTheNetworkHealed() throws Exception {
        try (TcpProxy proxy = TcpProxy.start("127.0.0.1", 6379)) {
            RedisStreamsTransport redis = transport(config().uri("redis://127.0.0.1:" + proxy.port())
                    .blockTimeout(Duration.ofMillis(100)).commandTimeout(Duration.ofMillis(500)).build());
            redis.publisher().publish("outcome", Message.ofText("before")).get(10, TimeUnit.SECONDS);

            proxy.blackhole();   // the XADD is written, but neither reaches Redis nor gets a reply until heal()
            assertThatThrownBy(() -> redis.publisher().publish("outcome", Message.ofText("during")).get(10, TimeUnit.SECONDS))
                    .cause().isInstanceOf(PublishException.class)
                    .hasMessageContaining("to topic 'outcome' is unknown")
                    .hasMessageEndingWith("it may or may not have been stored")
                    .hasMessageNotContaining("was not published");

            proxy.heal();
            // The stalled XADD arrives: the "failed" publish was stored after all.
            await().atMost(Duration.ofSeconds(10)).until(() -> raw.xlen(stream("outcome")) == 2);
        }
    }

    @Test
    void aPublishRedisRefusesSaysItWasNotPublished() throws Exception {
        RedisStreamsTransport redis = transport();
        Message first = Message.builder().header(RedisStreamsTransport.ENTRY_ID_HEADER, "5-0").payload(new byte[] {1}).build();
        redis.publisher().publish("refused", first).get(10, TimeUnit.SECONDS);

        Message stale = Message.builder().header(RedisStreamsTransport.ENTRY_ID_HEADER, "5-0").payload(new byte[] {2}).build();
        assertThatThrownBy(() -> redis.publisher().publish("refused", stale).join())
                .isInstanceOf(CompletionException.class)
                .cause().isInstanceOf(PublishException.class)
                .hasMessageStartingWith("message " + stale.id() + " to topic 'refused' was not published: Redis refused it: ERR")
                .hasMessageNotContaining("may or may not");
        assertThat(raw.xlen(stream("refused"))).isEqualTo(1);
    }
}
