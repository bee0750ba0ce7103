package io.courier.rabbitmq.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.spi.engine.Fetched;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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

    @Test
    void severalTakersWaitingAtOnceEachGetADeliveryAndOneWakeUpEndsEveryWait() throws Exception {
        DeliveryBuffer<Integer> buffer = new DeliveryBuffer<>();
        ExecutorService takers = Executors.newFixedThreadPool(3);
        try {
            List<CompletableFuture<List<Fetched<Integer>>>> first = startTakes(buffer, takers);
            await().atMost(Duration.ofSeconds(10)).until(() -> buffer.takersWaiting() == 3);
            for (int i = 0; i < 3; i++) {
                buffer.add(delivery(i));
            }
            List<Integer> got = new ArrayList<>();
            for (CompletableFuture<List<Fetched<Integer>>> f : first) {
                f.get(10, TimeUnit.SECONDS).forEach(d -> got.add(d.record()));
            }
            assertThat(got).containsExactlyInAnyOrder(0, 1, 2);

            List<CompletableFuture<List<Fetched<Integer>>>> waiting = startTakes(buffer, takers);
            await().atMost(Duration.ofSeconds(10)).until(() -> buffer.takersWaiting() == 3);
            buffer.wakeUp();
            for (CompletableFuture<List<Fetched<Integer>>> f : waiting) {
                assertThat(f.get(10, TimeUnit.SECONDS)).isEmpty();
            }
        } finally {
            takers.shutdownNow();
        }
    }

    private static List<CompletableFuture<List<Fetched<Integer>>>> startTakes(DeliveryBuffer<Integer> buffer,
                                                                            ExecutorService takers) {
        List<CompletableFuture<List<Fetched<Integer>>>> out = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            out.add(CompletableFuture.supplyAsync(() -> take(buffer, 1), takers));
        }
        return out;
    }

    private static List<Fetched<Integer>> take(DeliveryBuffer<Integer> buffer, int max) {
        try {
            return buffer.take(max, LONG);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<Fetched<Integer>> take(DeliveryBuffer<Integer> buffer) {
        try {
            return buffer.take(10, LONG);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
