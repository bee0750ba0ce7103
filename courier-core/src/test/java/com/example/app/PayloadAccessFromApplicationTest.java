package com.example.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.Message;
import io.courier.internal.HandlerChain;
import io.courier.spi.PayloadAccess;
import java.lang.invoke.MethodHandles;
import org.junit.jupiter.api.Test;

/**
 * Application code, outside Courier's implementation packages, gets no way through the public API to
 * a message's own payload array: it cannot obtain a {@link PayloadAccess}, and what it can call returns
 * copies, so a {@link Message} stays immutable.
 */
class PayloadAccessFromApplicationTest {

    @Test
    void anApplicationClassCannotObtainPayloadAccess() {
        assertThatThrownBy(() -> PayloadAccess.forTransport(MethodHandles.lookup()))
                .isInstanceOf(IllegalCallerException.class)
                .hasMessageContaining("com.example.app.PayloadAccessFromApplicationTest asked")
                .hasMessageContaining("use Message.payload()");
    }

    @Test
    void aLookupMovedToACourierClassOrThePublicLookupIsRefused() {
        // Lookup.in(...) keeps only public access, so it cannot impersonate an internal class.
        assertThatThrownBy(() -> PayloadAccess.forTransport(MethodHandles.lookup().in(HandlerChain.class)))
                .isInstanceOf(IllegalCallerException.class)
                .hasMessageContaining("with a reduced lookup");
        assertThatThrownBy(() -> PayloadAccess.forTransport(MethodHandles.publicLookup()))
                .isInstanceOf(IllegalCallerException.class);
    }

    @Test
    void anApplicationCannotInstallABridgeToReachTheArray() {
        Message.of(new byte[0]);

        assertThatThrownBy(() -> PayloadAccess.install(MethodHandles.lookup(), new PayloadAccess.Bridge() {
            @Override
            public byte[] payload(Message message) {
                return new byte[0];
            }

            @Override
            public Message build(Message.Builder builder, byte[] payload) {
                return null;
            }
        })).isInstanceOf(IllegalCallerException.class);
    }

    @Test
    void writingToThePayloadAnApplicationGetsLeavesTheMessageUnchanged() {
        Message m = Message.of(new byte[] {1, 2, 3});

        m.payload()[0] = 9;

        assertThat(m.payload()).containsExactly(1, 2, 3);
    }
}
