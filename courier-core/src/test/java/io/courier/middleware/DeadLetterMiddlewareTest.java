package io.courier.middleware;

import static io.courier.middleware.TestDeliveries.FIXED_CLOCK;
import static io.courier.middleware.TestDeliveries.NOW;
import static io.courier.middleware.TestDeliveries.delivery;
import static io.courier.middleware.TestDeliveries.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.DecodingException;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Message;
import io.courier.NonRetryableException;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.Publisher;
import io.courier.memory.InMemoryTransport;
import io.courier.spi.BasicDelivery;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeadLetterMiddlewareTest {

    private final InMemoryTransport transport = InMemoryTransport.create();
    private final BlockingQueue<Message> deadLetters = new LinkedBlockingQueue<>();

    DeadLetterMiddlewareTest() {
        transport.subscriber().subscribe("orders.dlq", "inspector", d -> deadLetters.add(d.message()));
    }

    @AfterEach
    void close() {
        transport.close();
    }

    private Message nextDeadLetter() throws InterruptedException {
        Message m = deadLetters.poll(10, TimeUnit.SECONDS);
        assertThat(m).as("a message on orders.dlq").isNotNull();
        return m;
    }

    @Test
    void deadLettersAfterMaxAttemptsWithReasonInHeaders() throws Exception {
        Handler chain = DeadLetterMiddleware.builder(transport.publisher()).clock(FIXED_CLOCK).build()
                .wrap(RetryMiddleware.builder().maxAttempts(3).build()
                        .wrap(d -> {
                            throw new IllegalStateException("payment service unavailable");
                        }));
        Message original = message("order-42").withHeader(Headers.FIRST_FAILURE_AT, "2030-01-01T00:00:00Z");
        BasicDelivery last = delivery(original, 3);

        chain.handle(last);   // returns normally: the source message gets acked

        Message dead = nextDeadLetter();
        assertThat(dead.id()).isEqualTo("order-42");
        assertThat(dead.key()).hasValue("customer-7");
        assertThat(dead.payload()).isEqualTo(original.payload());
        assertThat(dead.headers())
                .containsEntry(Headers.ORIGINAL_TOPIC, "orders")
                .containsEntry(Headers.ATTEMPTS, "3")
                .containsEntry(Headers.FIRST_FAILURE_AT, "2030-01-01T00:00:00Z")
                .containsEntry(Headers.LAST_FAILURE_AT, NOW.toString())
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalStateException.class.getName())
                .containsEntry(Headers.EXCEPTION_MESSAGE, "payment service unavailable")
                .containsEntry(Headers.DEAD_LETTER_REASON, "max-attempts")
                .containsEntry(Headers.DEAD_LETTER_GROUP, "billing");
        assertThat(last.deadLettered()).hasValueSatisfying(mark -> {
            assertThat(mark.topic()).isEqualTo("orders.dlq");
            assertThat(mark.reason()).isEqualTo("max-attempts");
        });
        assertThat(last.retryRequest()).isEmpty();
        assertThat(HandlerInvoker.invoke(chain, delivery(original, 3), Duration.ofSeconds(1))).isInstanceOf(Outcome.Ack.class);
    }

    @Test
    void doesNotDeadLetterWhileRetriesRemain() throws Exception {
        Handler chain = DeadLetterMiddleware.to(transport.publisher())
                .wrap(RetryMiddleware.builder().maxAttempts(3).build().wrap(d -> {
                    throw new IllegalStateException("flaky");
                }));
        BasicDelivery first = delivery(1);

        chain.handle(first);

        assertThat(first.deadLettered()).isEmpty();
        assertThat(first.retryRequest()).isPresent();
        assertThat(deadLetters.poll(100, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void nonRetryableFailuresAreAttemptedOnceThenDeadLettered() throws Exception {
        int[] calls = {0};
        Handler chain = DeadLetterMiddleware.to(transport.publisher())
                .wrap(RetryMiddleware.builder().maxAttempts(5).build().wrap(d -> {
                    calls[0]++;
                    throw new DecodingException("cannot decode OrderPlaced: missing field 'total'", new IOException());
                }));
        BasicDelivery first = delivery(1);

        chain.handle(first);

        assertThat(calls[0]).isEqualTo(1);
        assertThat(first.retryRequest()).isEmpty();
        Message dead = nextDeadLetter();
        assertThat(dead.headers())
                .containsEntry(Headers.DEAD_LETTER_REASON, "non-retryable")
                .containsEntry(Headers.ATTEMPTS, "1")
                .containsEntry(Headers.EXCEPTION_CLASS, DecodingException.class.getName())
                .containsEntry(Headers.EXCEPTION_MESSAGE, "cannot decode OrderPlaced: missing field 'total'");
        assertThat(first.deadLettered().orElseThrow().reason()).isEqualTo("non-retryable");
    }

    @Test
    void withoutRetryEveryFailureIsDeadLetteredAtOnce() throws Exception {
        BasicDelivery d = delivery(1);

        DeadLetterMiddleware.to(transport.publisher()).wrap(x -> {
            throw new IllegalStateException("boom");
        }).handle(d);

        assertThat(nextDeadLetter().headers()).containsEntry(Headers.DEAD_LETTER_REASON, "max-attempts")
                .containsEntry(Headers.ATTEMPTS, "1")
                .containsKey(Headers.FIRST_FAILURE_AT);
        assertThat(d.deadLettered()).isPresent();
    }

    @Test
    void customClassificationMatchesACustomRetryPredicate() throws Exception {
        RetryMiddleware retry = RetryMiddleware.builder().retryIf(e -> !(e instanceof IllegalArgumentException)).build();
        Handler chain = DeadLetterMiddleware.builder(transport.publisher()).nonRetryableIf(e -> !retry.isRetryable(e)).build()
                .wrap(retry.wrap(d -> {
                    throw new IllegalArgumentException("negative quantity");
                }));

        chain.handle(delivery(1));

        assertThat(nextDeadLetter().headers()).containsEntry(Headers.DEAD_LETTER_REASON, "non-retryable");
    }

    @Test
    void successIsNotDeadLettered() throws Exception {
        BasicDelivery d = delivery(1);

        DeadLetterMiddleware.to(transport.publisher()).wrap(x -> { }).handle(d);

        assertThat(d.deadLettered()).isEmpty();
        assertThat(deadLetters.poll(100, TimeUnit.MILLISECONDS)).isNull();
    }

    @Test
    void usesTheTopicNamer() throws Exception {
        BlockingQueue<Message> parked = new LinkedBlockingQueue<>();
        transport.subscriber().subscribe("parking-lot", "inspector", d -> parked.add(d.message()));
        BasicDelivery d = delivery(1);

        DeadLetterMiddleware.builder(transport.publisher()).topicNamer(x -> "parking-lot").build()
                .wrap(x -> {
                    throw new NonRetryableException("nope");
                }).handle(d);

        assertThat(parked.poll(10, TimeUnit.SECONDS)).isNotNull();
        assertThat(d.deadLettered().orElseThrow().topic()).isEqualTo("parking-lot");
    }

    @Test
    void failedDeadLetterPublishLeavesTheMessageUnacked() {
        PublishException brokerDown = new PublishException("orders.dlq", "broker refused the message");
        Publisher failing = publisher(CompletableFuture.failedFuture(brokerDown));
        IllegalStateException handlerFailure = new IllegalStateException("boom");
        Handler chain = DeadLetterMiddleware.to(failing).wrap(x -> {
            throw handlerFailure;
        });
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> chain.handle(d))
                .isInstanceOf(PublishException.class)
                .hasMessageContaining("could not dead-letter message msg-1 from topic 'orders' (group 'billing', attempt 1) to topic 'orders.dlq'")
                .hasCause(brokerDown)
                .satisfies(e -> assertThat(e.getSuppressed()).containsExactly(handlerFailure));
        assertThat(d.deadLettered()).isEmpty();
        assertThat(HandlerInvoker.invoke(chain, delivery(1), Duration.ofSeconds(1))).isInstanceOf(Outcome.Failed.class);
    }

    @Test
    void unconfirmedDeadLetterPublishTimesOutAndLeavesTheMessageUnacked() {
        Publisher neverConfirms = publisher(new CompletableFuture<>());
        Handler chain = DeadLetterMiddleware.builder(neverConfirms).publishTimeout(Duration.ofMillis(50)).build()
                .wrap(x -> {
                    throw new IllegalStateException("boom");
                });
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> chain.handle(d)).isInstanceOf(PublishException.class)
                .hasMessageEndingWith("publish not confirmed within PT0.05S");
        assertThat(d.deadLettered()).isEmpty();
    }

    @Test
    void publisherThrowingDirectlyLeavesTheMessageUnacked() {
        Publisher throwing = new Publisher() {
            @Override
            public CompletableFuture<PublishResult> publish(String topic, Message message) {
                throw new IllegalArgumentException("topic must be at most 200 characters, but was 204");
            }

            @Override
            public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
                throw new UnsupportedOperationException();
            }
        };
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> DeadLetterMiddleware.to(throwing).wrap(x -> {
            throw new IllegalStateException("boom");
        }).handle(d)).isInstanceOf(PublishException.class).hasCauseInstanceOf(IllegalArgumentException.class);
        assertThat(d.deadLettered()).isEmpty();
    }

    @Test
    void interruptionsAreRethrownNotDeadLettered() {
        BasicDelivery d = delivery(1);

        assertThatThrownBy(() -> DeadLetterMiddleware.to(transport.publisher()).wrap(x -> {
            throw new InterruptedException("shutting down");
        }).handle(d)).isInstanceOf(InterruptedException.class);
        assertThat(d.deadLettered()).isEmpty();
    }

    @Test
    void reportsTheFailureInsideCompletionWrappers() throws Exception {
        DeadLetterMiddleware.to(transport.publisher()).wrap(x -> {
            throw new java.util.concurrent.CompletionException(new IllegalStateException("inner cause"));
        }).handle(delivery(1));

        assertThat(nextDeadLetter().headers())
                .containsEntry(Headers.EXCEPTION_CLASS, IllegalStateException.class.getName())
                .containsEntry(Headers.EXCEPTION_MESSAGE, "inner cause");
    }

    @Test
    void builderRejectsInvalidSettings() {
        assertThatThrownBy(() -> DeadLetterMiddleware.builder(transport.publisher()).publishTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("publishTimeout must be > 0, but was PT0S");
        assertThatThrownBy(() -> DeadLetterMiddleware.to(null)).isInstanceOf(NullPointerException.class);
    }

    private static Publisher publisher(CompletableFuture<PublishResult> result) {
        return new Publisher() {
            @Override
            public CompletableFuture<PublishResult> publish(String topic, Message message) {
                return result;
            }

            @Override
            public CompletableFuture<List<PublishResult>> publishAll(String topic, List<Message> messages) {
                throw new UnsupportedOperationException();
            }
        };
    }
}
