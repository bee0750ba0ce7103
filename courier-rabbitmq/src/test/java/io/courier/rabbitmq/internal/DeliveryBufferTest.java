package io.courier.rabbitmq.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.courier.Message;
import io.courier.spi.engine.Fetched;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DeliveryBufferTest {

    private static final Duration LONG = Duration.ofSeconds(30);

    private static Fetched<Integer> delivery(int n) {
        return Fetched.of(n, Message.ofText("m" + n), 1);
    }

    @Test
    void takesAtMostMaxOldestFirstAndLeavesTheRest() throws Exception {
        DeliveryBuffer<Integer> buffer = new DeliveryBuffer<>();
        for (int i = 0; i < 5; i++) {
            buffer.add(delivery(i));
        }

        assertThat(buffer.take(3, LONG)).extracting(Fetched::record).containsExactly(0, 1, 2);
        assertThat(buffer.take(0, LONG)).isEmpty();
        assertThat(buffer.take(10, LONG)).extracting(Fetched::record).containsExactly(3, 4);
        assertThat(buffer.take(10, Duration.ZERO)).isEmpty();
    }

    @Test
    void aWaitingTakeReturnsAsSoonAsADeliveryArrives() throws Exception {
        DeliveryBuffer<Integer> buffer = new DeliveryBuffer<>();
        CompletableFuture<List<Fetched<Integer>>> taken = CompletableFuture.supplyAsync(() -> take(buffer));

        buffer.add(delivery(7));

        assertThat(taken.get(10, TimeUnit.SECONDS)).extracting(Fetched::record).containsExactly(7);
    }

    @Test
    void wakeUpEndsAWaitingTakeAndIsNotLostWhenNoTakeWaits() throws Exception {
        DeliveryBuffer<Integer> buffer = new DeliveryBuffer<>();
        CompletableFuture<List<Fetched<Integer>>> taken = CompletableFuture.supplyAsync(() -> take(buffer));
        // until the take waits, a wake-up is kept for it; either way it must return, empty
        buffer.wakeUp();
        assertThat(taken.get(10, TimeUnit.SECONDS)).isEmpty();

        buffer.wakeUp();
        assertThat(buffer.take(1, LONG)).as("a wake-up before the take").isEmpty();
    }

    private static List<Fetched<Integer>> take(DeliveryBuffer<Integer> buffer) {
        try {
            return buffer.take(10, LONG);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
