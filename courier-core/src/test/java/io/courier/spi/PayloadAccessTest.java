package io.courier.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.Message;
import org.junit.jupiter.api.Test;

class PayloadAccessTest {

    @Test
    void aTransportReadsThePayloadWithoutACopyWhileApplicationsGetCopies() {
        Message m = Message.of(new byte[] {1, 2, 3});

        assertThat(PayloadAccess.view(m)).isSameAs(PayloadAccess.view(m)).containsExactly(1, 2, 3);
        assertThat(m.payload()).isNotSameAs(PayloadAccess.view(m)).containsExactly(1, 2, 3);
    }

    @Test
    void aTransportHandsAReceivedArrayToTheMessageWithoutACopy() {
        byte[] received = {4, 5};

        Message m = PayloadAccess.build(Message.builder().id("m-1").key("k"), received);

        assertThat(PayloadAccess.view(m)).isSameAs(received);
        assertThat(m.id()).isEqualTo("m-1");
        assertThat(m.key()).contains("k");
        assertThat(m).isEqualTo(Message.builder().id("m-1").key("k").payload(new byte[] {4, 5}).timestamp(m.timestamp()).build());
    }

    @Test
    void aBuilderStillCopiesWhatItIsGiven() {
        byte[] mine = {7};
        Message m = Message.builder().payload(mine).build();
        mine[0] = 8;

        assertThat(m.payload()).containsExactly(7);
    }

    @Test
    void theBridgeCannotBeReplaced() {
        Message.of(new byte[0]);   // installed by Message's initializer

        assertThatThrownBy(() -> PayloadAccess.install(new PayloadAccess.Bridge() {
            @Override
            public byte[] payload(Message message) {
                return new byte[0];
            }

            @Override
            public Message build(Message.Builder builder, byte[] payload) {
                return null;
            }
        })).isInstanceOf(IllegalStateException.class);
    }
}
