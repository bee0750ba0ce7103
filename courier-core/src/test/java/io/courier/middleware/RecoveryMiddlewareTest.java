package io.courier.middleware;

import static io.courier.middleware.TestDeliveries.delivery;
import static io.courier.middleware.TestDeliveries.message;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.courier.Handler;
import io.courier.spi.BasicDelivery;
import io.courier.spi.HandlerInvoker;
import io.courier.spi.Outcome;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class RecoveryMiddlewareTest {

    static Stream<Error> errors() {
        return Stream.of(new StackOverflowError(), new AssertionError("invariant broken"),
                new NoClassDefFoundError("com/example/Missing"), new OutOfMemoryError("Java heap space"));
    }

    @ParameterizedTest
    @MethodSource("errors")
    void convertsErrorsIntoHandlerFailedExceptionsWithTheOriginalAsCause(Error error) {
        BasicDelivery d = delivery(message("order-42"), 1);

        assertThatThrownBy(() -> new RecoveryMiddleware().wrap(x -> {
            throw error;
        }).handle(d))
                .isInstanceOfSatisfying(HandlerFailedException.class, e -> assertThat(e.messageId()).isEqualTo("order-42"))
                .hasCause(error)
                .hasMessageStartingWith("handler for message order-42 from topic 'orders' (group 'billing', attempt 1) failed with "
                        + error.getClass().getName());
    }

    @Test
    void convertsARealStackOverflow() {
        Handler recursive = new Handler() {
            @Override
            public void handle(io.courier.Delivery d) throws Exception {
                handle(d);
            }
        };

        assertThatThrownBy(() -> new RecoveryMiddleware().wrap(recursive).handle(delivery(1)))
                .isInstanceOf(HandlerFailedException.class).hasCauseInstanceOf(StackOverflowError.class);
    }

    @Test
    void rethrowsExceptionsUnchanged() {
        IllegalStateException failure = new IllegalStateException("boom");
        InterruptedException interrupted = new InterruptedException();

        assertThatThrownBy(() -> new RecoveryMiddleware().wrap(x -> {
            throw failure;
        }).handle(delivery(1))).isSameAs(failure);
        assertThatThrownBy(() -> new RecoveryMiddleware().wrap(x -> {
            throw interrupted;
        }).handle(delivery(1))).isSameAs(interrupted);
    }

    @Test
    void passesSuccessThrough() throws Exception {
        BasicDelivery d = delivery(1);

        Outcome outcome = HandlerInvoker.invoke(new RecoveryMiddleware().wrap(x -> { }), d, Duration.ofSeconds(1));

        assertThat(outcome).isInstanceOf(Outcome.Ack.class);
    }

    @Test
    void anErrorBecomesAnOrdinaryFailedAttempt() {
        Outcome outcome = HandlerInvoker.invoke(new RecoveryMiddleware().wrap(x -> {
            throw new AssertionError("bug");
        }), delivery(1), Duration.ofSeconds(1));

        assertThat(outcome).isInstanceOfSatisfying(Outcome.Failed.class,
                f -> assertThat(f.error()).isInstanceOf(HandlerFailedException.class));
    }
}
