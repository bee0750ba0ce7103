package io.courier.middleware;

import static io.courier.middleware.TestDeliveries.delivery;
import static io.courier.middleware.TestDeliveries.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.Correlation;
import io.courier.spi.BasicDelivery;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class TimeoutMiddlewareTest {

    @Test
    void interruptsASlowHandlerAndFailsTheAttemptNamingMessageAndTimeout() {
        CountDownLatch never = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofMillis(50));
        BasicDelivery d = delivery(message("order-42"), 2);

        assertThatThrownBy(() -> timeout.wrap(x -> {
            try {
                never.await();
            } catch (InterruptedException e) {
                interrupted.set(true);
                throw e;
            }
        }).handle(d))
                .isInstanceOfSatisfying(HandlerTimeoutException.class, e -> {
                    assertThat(e.messageId()).isEqualTo("order-42");
                    assertThat(e.timeout()).isEqualTo(Duration.ofMillis(50));
                })
                .hasMessage("handler for message order-42 from topic 'orders' (group 'billing', attempt 2) "
                        + "did not finish within PT0.05S; its thread was interrupted");
        await().atMost(Duration.ofSeconds(10)).untilTrue(interrupted);
    }

    @Test
    void aTimedOutAttemptCountsAsFailed() {
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofMillis(20));

        Outcome outcome = HandlerInvoker.invoke(timeout.wrap(x -> new CountDownLatch(1).await()), delivery(1), Duration.ofSeconds(1));

        assertThat(outcome).isInstanceOfSatisfying(Outcome.Failed.class,
                f -> assertThat(f.error()).isInstanceOf(HandlerTimeoutException.class));
    }

    @Test
    void retryTreatsATimeoutAsRetryable() throws Exception {
        BasicDelivery d = delivery(1);

        RetryMiddleware.defaults().wrap(new TimeoutMiddleware(Duration.ofMillis(20)).wrap(x -> new CountDownLatch(1).await())).handle(d);

        assertThat(d.retryRequest()).isPresent();
    }

    @Test
    void fastHandlersReturnNormallyAndTheirRetryRequestIsKept() throws Exception {
        BasicDelivery d = delivery(1);

        new TimeoutMiddleware(Duration.ofSeconds(10)).wrap(x -> x.retryAfter(Duration.ofSeconds(3), Map.of())).handle(d);

        assertThat(d.retryRequest().orElseThrow().delay()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void handlerExceptionsAndErrorsAreRethrownUnchanged() {
        IllegalStateException failure = new IllegalStateException("boom");
        StackOverflowError error = new StackOverflowError();
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofSeconds(10));

        assertThatThrownBy(() -> timeout.wrap(x -> {
            throw failure;
        }).handle(delivery(1))).isSameAs(failure);
        assertThatThrownBy(() -> timeout.wrap(x -> {
            throw error;
        }).handle(delivery(1))).isSameAs(error);
    }

    @Test
    void runsTheHandlerOnAnotherThreadCarryingTheCorrelationId() throws Exception {
        AtomicReference<Thread> handlerThread = new AtomicReference<>();
        AtomicReference<String> correlation = new AtomicReference<>();
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofSeconds(10));

        Correlation.callWith("corr-7", () -> {
            timeout.wrap(x -> {
                handlerThread.set(Thread.currentThread());
                correlation.set(Correlation.current().orElse(null));
            }).handle(delivery(1));
            return null;
        });

        assertThat(handlerThread.get()).isNotSameAs(Thread.currentThread());
        assertThat(correlation.get()).isEqualTo("corr-7");
    }

    @Test
    void interruptingTheConsumerInterruptsTheHandler() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean handlerInterrupted = new AtomicBoolean();
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofHours(1));
        Thread consumer = new Thread(() -> {
            try {
                timeout.wrap(x -> {
                    started.countDown();
                    try {
                        new CountDownLatch(1).await();
                    } catch (InterruptedException e) {
                        handlerInterrupted.set(true);
                        throw e;
                    }
                }).handle(delivery(1));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        consumer.start();
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

        consumer.interrupt();
        consumer.join(TimeUnit.SECONDS.toMillis(10));

        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        await().atMost(Duration.ofSeconds(10)).untilTrue(handlerInterrupted);
    }

    @Test
    void withAGraceItWaitsForTheInterruptedHandlerToEnd() {
        AtomicBoolean cleanedUp = new AtomicBoolean();
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofMillis(20), Duration.ofSeconds(10));

        assertThatThrownBy(() -> timeout.wrap(x -> {
            try {
                new CountDownLatch(1).await();
            } finally {
                cleanedUp.set(true);
            }
        }).handle(delivery(1))).isInstanceOf(HandlerTimeoutException.class);
        assertThat(cleanedUp).isTrue();   // no await: the grace guaranteed it
    }

    @Test
    void saysSoWhenTheHandlerIgnoresTheInterrupt() {
        CountDownLatch endOfTest = new CountDownLatch(1);
        TimeoutMiddleware timeout = new TimeoutMiddleware(Duration.ofMillis(20), Duration.ofMillis(50));
        try {
            assertThatThrownBy(() -> timeout.wrap(x -> {
                while (endOfTest.getCount() > 0) {
                    try {
                        endOfTest.await();
                    } catch (InterruptedException stubborn) {
                        // ignores the interrupt, as non-interruptible I/O would
                    }
                }
            }).handle(delivery(message("order-42"), 1)))
                    .isInstanceOf(HandlerTimeoutException.class)
                    .hasMessageEndingWith("did not finish within PT0.02S; its thread was interrupted but was still running PT0.05S later");
        } finally {
            endOfTest.countDown();
        }
    }

    @Test
    void defaultGraceIsOneSecond() {
        assertThat(new TimeoutMiddleware(Duration.ofSeconds(5)).interruptGrace()).isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void rejectsInvalidDurations() {
        assertThatThrownBy(() -> new TimeoutMiddleware(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("timeout must be > 0, but was PT0S");
        assertThatThrownBy(() -> new TimeoutMiddleware(Duration.ofSeconds(1), Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("interruptGrace must be >= 0, but was PT-1S");
    }
}
