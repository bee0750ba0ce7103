package io.courier.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Message;
import io.courier.Subscription;
import io.courier.SubscriptionOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The engine extends in-memory leases while a handler runs, and gives back what a closing consumer never started. */
class InMemoryLeaseExtensionTest {

    @Test
    void aHandlerSlowerThanTheLeaseIsNotRedeliveredToAnotherConsumer() throws Exception {
        try (InMemoryTransport transport = InMemoryTransport.create()) {
            SubscriptionOptions options = SubscriptionOptions.builder("slow", "g").concurrency(1)
                    .leaseTimeout(Duration.ofSeconds(1)).build();
            List<Integer> attempts = new CopyOnWriteArrayList<>();
            CountDownLatch done = new CountDownLatch(1);
            io.courier.Handler slow = d -> {
                attempts.add(d.attempt());
                TimeUnit.MILLISECONDS.sleep(2_500);   // two and a half leases
                done.countDown();
            };
            try (Subscription a = transport.subscriber().subscribe(options, slow);
                 Subscription b = transport.subscriber().subscribe(options, slow)) {
                transport.publisher().publish("slow", Message.ofText("x")).join();
                assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
                await().atMost(Duration.ofSeconds(5)).until(() -> transport.backlog("slow", "g") == 0);
            }
            assertThat(attempts).containsExactly(1);
        }
    }

    @Test
    void messagesAClosingConsumerNeverStartedGoBackWithoutCountingAnAttempt() throws Exception {
        try (InMemoryTransport transport = InMemoryTransport.create()) {
            for (int i = 0; i < 5; i++) {
                transport.publisher().publish("back", Message.ofText("m" + i)).join();
            }
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Subscription first = transport.subscriber().subscribe(
                    SubscriptionOptions.builder("back", "g").concurrency(1).maxInFlight(5).build(), d -> {
                        inside.countDown();
                        release.await();
                    });
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();
            Thread closer = new Thread(first::close);
            closer.start();
            await().atMost(Duration.ofSeconds(5)).until(() -> !first.isRunning());
            release.countDown();
            closer.join(10_000);

            List<String> seen = new CopyOnWriteArrayList<>();
            try (Subscription second = transport.subscriber().subscribe(
                    SubscriptionOptions.builder("back", "g").concurrency(1).build(),
                    d -> seen.add(d.message().payloadAsText() + "@" + d.attempt()))) {
                await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 4);
            }
            assertThat(seen).containsExactly("m1@1", "m2@1", "m3@1", "m4@1");
        }
    }
}
