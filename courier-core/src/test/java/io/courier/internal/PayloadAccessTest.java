package io.courier.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import io.courier.Message;
import io.courier.spi.PayloadAccess;
import java.lang.invoke.MethodHandles;
import org.junit.jupiter.api.Test;

/** A class in a Courier implementation package, as a transport's codec is, reads and adopts arrays without copies. */
class PayloadAccessTest {

    private static final PayloadAccess PAYLOADS = PayloadAccess.forTransport(MethodHandles.lookup());

    @Test
    void aTransportReadsThePayloadWithoutACopyWhileApplicationsGetCopies() {
        Message m = Message.of(new byte[] {1, 2, 3});

        assertThat(PAYLOADS.view(m)).isSameAs(PAYLOADS.view(m)).containsExactly(1, 2, 3);
        assertThat(m.payload()).isNotSameAs(PAYLOADS.view(m)).containsExactly(1, 2, 3);
    }

    @Test
    void aTransportHandsAReceivedArrayToTheMessageWithoutACopy() {
        byte[] received = {4, 5};

        Message m = PAYLOADS.build(Message.builder().id("m-1").key("k"), received);

        assertThat(PAYLOADS.view(m)).isSameAs(received);
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
    void aReceivedMessageWithAnEmptyKeyOrHeaderNameHasNoKeyAndLeavesThatHeaderOut() {
        // What transports do with what other producers sent: they build through PayloadAccess.
        Message received = PAYLOADS.build(Message.builder().id("r-1").key("")
                .header("", "dropped").header("kept", "1"), new byte[] {1});

        assertThat(received.key()).isEmpty();
        assertThat(received.headers()).containsExactly(entry("kept", "1"));
        // So it can be copied, retried and dead-lettered like any other message.
        assertThat(received.withHeader("x", "y").headers()).containsKeys("kept", "x");
        assertThat(PAYLOADS.build(Message.builder().header("", "only"), new byte[0]).headers()).isEmpty();
    }
}
