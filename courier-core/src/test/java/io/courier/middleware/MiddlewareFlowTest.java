package io.courier.middleware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.courier.Delivery;
import io.courier.Headers;
import io.courier.LifecycleListener;
import io.courier.Message;
import io.courier.Router;
import io.courier.memory.InMemoryTransport;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The recommended chain over a real (in-memory) transport: poison messages end in the DLQ, others flow. */
class MiddlewareFlowTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final InMemoryTransport transport = InMemoryTransport.create();
    private final Queue<Message> deadLetters = new ConcurrentLinkedQueue<>();
    private final AtomicInteger retried = new AtomicInteger();
    private final AtomicInteger deadLettered = new AtomicInteger();
    private final LifecycleListener listener = new LifecycleListener() {
        @Override
        public void onRetried(Delivery delivery, Duration delay) {
            retried.incrementAndGet();
        }

        @Override
        public void onDeadLettered(Delivery delivery, String deadLetterTopic, String reason) {
            deadLettered.incrementAndGet();
        }
    };
    private Router router;

    @AfterEach
    void close() {
        if (router != null) {
            router.close();
        }
        transport.close();
    }

    private Router.Builder recommendedChain(int maxAttempts) {
        return Router.builder(transport).listener(listener)
                .use(new RecoveryMiddleware())
                .use(DeadLetterMiddleware.to(transport.publisher()))
                .use(RetryMiddleware.builder().maxAttempts(maxAttempts)
                        .initialDelay(Duration.ofMillis(1)).maxDelay(Duration.ofMillis(5)).build());
    }

    private void watchDeadLetters() {
        transport.subscriber().subscribe("orders.dlq", "inspector", d -> deadLetters.add(d.message()));
    }

    @Test
    void poisonMessageIsDeadLetteredAfterMaxAttemptsWhileOthersAreAcked() {
        Set<String> handled = ConcurrentHashMap.newKeySet();
        Queue<Integer> poisonAttempts = new ConcurrentLinkedQueue<>();
        router = recommendedChain(3).build();
        router.route("orders", "billing", d -> {
            if (d.message().payloadAsText().equals("poison")) {
                poisonAttempts.add(d.attempt());
                throw new IllegalStateException("cannot bill order " + d.message().id());
            }
            handled.add(d.message().id());
        });
        watchDeadLetters();
        router.start();

        for (int i = 1; i <= 5; i++) {
            router.publisher().publish("orders", Message.builder().id("good-" + i).payload("ok".getBytes()).build()).join();
        }
        router.publisher().publish("orders", Message.builder().id("bad-1").payload("poison".getBytes()).build()).join();

        await().atMost(WAIT).until(() -> deadLetters.size() == 1 && handled.size() == 5);
        await().atMost(WAIT).until(() -> transport.backlog("orders", "billing") == 0);
        Message dead = deadLetters.peek();
        assertThat(dead.id()).isEqualTo("bad-1");
        assertThat(dead.payloadAsText()).isEqualTo("poison");
        assertThat(dead.headers())
                .containsEntry(Headers.ATTEMPTS, "3")
                .containsEntry(Headers.DEAD_LETTER_REASON, "max-attempts")
                .containsEntry(Headers.DEAD_LETTER_GROUP, "billing")
                .containsEntry(Headers.ORIGINAL_TOPIC, "orders")
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalStateException.class.getName())
                .containsEntry(Headers.EXCEPTION_MESSAGE, "cannot bill order bad-1");
        Instant first = Instant.parse(dead.headers().get(Headers.FIRST_FAILURE_AT));
        Instant last = Instant.parse(dead.headers().get(Headers.LAST_FAILURE_AT));
        assertThat(first).isBeforeOrEqualTo(last);
        assertThat(poisonAttempts).containsExactly(1, 2, 3);
        assertThat(handled).containsExactlyInAnyOrder("good-1", "good-2", "good-3", "good-4", "good-5");
        assertThat(retried).hasValue(2);
        assertThat(deadLettered).hasValue(1);
    }

    record Order(String id, long totalCents) {
    }

    @Test
    void undecodablePayloadIsDeadLetteredAfterOneAttempt() {
        AtomicInteger calls = new AtomicInteger();
        router = recommendedChain(5).build();
        router.route("orders", "billing", Order.class, (order, d) -> calls.incrementAndGet());
        watchDeadLetters();
        router.start();

        router.publisher().publish("orders", Message.builder().id("garbled").payload("{not json".getBytes()).build()).join();
        router.publisher().publish("orders", Message.builder().id("fine").payload("{\"id\":\"o1\",\"totalCents\":100}".getBytes()).build()).join();

        await().atMost(WAIT).until(() -> deadLetters.size() == 1 && calls.get() == 1);
        await().atMost(WAIT).until(() -> transport.backlog("orders", "billing") == 0);
        assertThat(deadLetters.peek().headers())
                .containsEntry(Headers.DEAD_LETTER_REASON, "non-retryable")
                .containsEntry(Headers.ATTEMPTS, "1")
                .containsEntry(Headers.EXCEPTION_CLASS, io.courier.DecodingException.class.getName());
        assertThat(retried).hasValue(0);
    }

    @Test
    void errorsTravelTheSameRetryAndDeadLetterPath() {
        router = recommendedChain(2).build();
        router.route("orders", "billing", d -> {
            throw new AssertionError("invariant broken");
        });
        watchDeadLetters();
        router.start();

        router.publisher().publish("orders", Message.ofText("x")).join();

        await().atMost(WAIT).until(() -> deadLetters.size() == 1);
        assertThat(deadLetters.peek().headers())
                .containsEntry(Headers.EXCEPTION_CLASS, AssertionError.class.getName())
                .containsEntry(Headers.ATTEMPTS, "2");
    }

    @Test
    void timedOutAttemptsAreRetriedThenDeadLettered() {
        CountDownLatch never = new CountDownLatch(1);
        router = recommendedChain(2).use(new TimeoutMiddleware(Duration.ofMillis(50))).build();
        router.route("orders", "billing", d -> never.await());
        watchDeadLetters();
        router.start();

        router.publisher().publish("orders", Message.builder().id("slow-1").payload(new byte[0]).build()).join();

        await().atMost(WAIT).until(() -> deadLetters.size() == 1);
        assertThat(deadLetters.peek().headers())
                .containsEntry(Headers.EXCEPTION_CLASS, HandlerTimeoutException.class.getName())
                .containsEntry(Headers.ATTEMPTS, "2")
                .hasEntrySatisfying(Headers.EXCEPTION_MESSAGE, m -> assertThat(m).contains("slow-1", "PT0.05S"));
    }

    /**
     * A handler asked for a retry and then threw; the DLQ stored the message. The transport must ack it,
     * not also honour the stale retry request (which would redeliver and dead-letter it again and again).
     */
    @Test
    void aDeadLetteredMessageIsAckedEvenIfARetryWasRequestedBefore() {
        AtomicInteger calls = new AtomicInteger();
        router = Router.builder(transport).listener(listener).use(DeadLetterMiddleware.to(transport.publisher())).build();
        router.route("orders", "billing", d -> {
            calls.incrementAndGet();
            d.retryAfter(Duration.ofMillis(1), Map.of());
            throw new IllegalStateException("changed my mind");
        });
        watchDeadLetters();
        router.start();

        router.publisher().publish("orders", Message.ofText("x")).join();

        await().atMost(WAIT).until(() -> transport.backlog("orders", "billing") == 0);
        assertThat(calls).hasValue(1);
        assertThat(deadLettered).hasValue(1);
        await().atMost(WAIT).until(() -> deadLetters.size() == 1);
        assertThat(List.copyOf(deadLetters)).hasSize(1);
    }
}
