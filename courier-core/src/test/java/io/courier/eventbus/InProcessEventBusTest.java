package io.courier.eventbus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.TransportClosedException;
import io.courier.eventbus.EventDispatchException.HandlerFailure;
import io.courier.eventbus.InProcessEventBus.Mode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class InProcessEventBusTest {

    record UserCreated(String userId, String email) {
    }

    interface OrderEvent {
        String orderId();
    }

    record OrderPlaced(String orderId) implements OrderEvent {
    }

    record OrderCancelled(String orderId) implements OrderEvent {
    }

    private static final UserCreated USER = new UserCreated("123", "user@example.com");

    private static InProcessEventBus bus(Mode mode) {
        return InProcessEventBus.builder().mode(mode).failureListener(e -> { }).build();
    }

    private static EventDispatchException dispatchFailure(CompletableFuture<Void> future) {
        Throwable thrown = catchJoin(future);
        assertThat(thrown).isInstanceOf(CompletionException.class).hasCauseInstanceOf(EventDispatchException.class);
        return (EventDispatchException) thrown.getCause();
    }

    private static Throwable catchJoin(CompletableFuture<Void> future) {
        try {
            future.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            return e instanceof java.util.concurrent.ExecutionException ? new CompletionException(e.getCause()) : e;
        }
        throw new AssertionError("expected the publish future to fail, but it completed normally");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void oneThrowingHandlerDoesNotStopTheOthers(Mode mode) {
        try (InProcessEventBus bus = bus(mode)) {
            List<String> handled = new CopyOnWriteArrayList<>();
            bus.subscribe(UserCreated.class, "first", e -> handled.add("first"));
            bus.subscribe(UserCreated.class, "broken", e -> {
                throw new IllegalStateException("smtp down");
            });
            bus.subscribe(UserCreated.class, "last", e -> handled.add("last"));

            EventDispatchException error = dispatchFailure(bus.publish(USER));

            assertThat(handled).containsExactlyInAnyOrder("first", "last");
            assertThat(error.handlerCount()).isEqualTo(3);
            assertThat(error.failures()).extracting(HandlerFailure::handlerName).containsExactly("broken");
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void reportsEveryFailureNotOnlyTheFirst(Mode mode) {
        try (InProcessEventBus bus = bus(mode)) {
            bus.subscribe(UserCreated.class, "email", e -> {
                throw new IllegalStateException("smtp down");
            });
            bus.subscribe(UserCreated.class, "ok", e -> { });
            bus.subscribe(UserCreated.class, "profile", e -> {
                throw new java.io.IOException("disk full");
            });
            bus.subscribe(UserCreated.class, "crm", e -> {
                throw new UnsupportedOperationException("crm offline");
            });

            EventDispatchException error = dispatchFailure(bus.publish(USER));

            assertThat(error.failures()).hasSize(3);
            assertThat(error.failures()).extracting(HandlerFailure::handlerName).containsExactly("email", "profile", "crm");
            assertThat(error.failures()).extracting(HandlerFailure::eventType).containsOnly(UserCreated.class);
            assertThat(error.failures()).extracting(f -> (Object) f.error().getClass()).containsExactly(
                    IllegalStateException.class, java.io.IOException.class, UnsupportedOperationException.class);
            assertThat(error.event()).isEqualTo(USER);
            assertThat(error.getCause()).isSameAs(error.failures().get(0).error());
            assertThat(error.getSuppressed()).containsExactly(error.failures().get(1).error(), error.failures().get(2).error());
            assertThat(error.getMessage()).contains("3 of 4 handler(s) failed", "'email'", "'profile'", "'crm'",
                    "smtp down", "disk full", "crm offline", UserCreated.class.getName());
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void errorThrownByHandlerIsIsolatedAndReported(Mode mode) {
        try (InProcessEventBus bus = bus(mode)) {
            AtomicInteger healthy = new AtomicInteger();
            bus.subscribe(UserCreated.class, "fatal", e -> {
                throw new StackOverflowError("deep recursion");
            });
            bus.subscribe(UserCreated.class, "healthy", e -> healthy.incrementAndGet());

            EventDispatchException error = dispatchFailure(bus.publish(USER));

            assertThat(healthy).hasValue(1);
            assertThat(error.failures()).singleElement().satisfies(f -> {
                assertThat(f.handlerName()).isEqualTo("fatal");
                assertThat(f.error()).isInstanceOf(StackOverflowError.class).hasMessage("deep recursion");
            });
            // the bus keeps working afterwards
            bus.publish(USER).exceptionally(e -> null).join();
            assertThat(healthy).hasValue(2);
        }
    }

    @Test
    void asynchronousPublishReturnsBeforeASlowHandlerFinishes() throws Exception {
        try (InProcessEventBus bus = bus(Mode.ASYNCHRONOUS)) {
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger fast = new AtomicInteger();
            bus.subscribe(UserCreated.class, "slow", e -> release.await());
            bus.subscribe(UserCreated.class, "fast", e -> fast.incrementAndGet());

            CompletableFuture<Void> future = bus.publish(USER);   // would block forever if publish ran "slow"

            await().atMost(Duration.ofSeconds(10)).until(() -> fast.get() == 1);
            assertThat(future).isNotDone();
            release.countDown();
            future.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void asynchronousModeRunsTheHandlersOfOneEventConcurrently() throws Exception {
        try (InProcessEventBus bus = bus(Mode.ASYNCHRONOUS)) {
            // Both handlers must be inside handle() at the same time to pass the barrier.
            CyclicBarrier bothRunning = new CyclicBarrier(2);
            bus.subscribe(UserCreated.class, "a", e -> bothRunning.await(10, TimeUnit.SECONDS));
            bus.subscribe(UserCreated.class, "b", e -> bothRunning.await(10, TimeUnit.SECONDS));

            bus.publish(USER).get(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void synchronousModeRunsHandlersOnThePublishingThreadInSubscriptionOrder() {
        try (InProcessEventBus bus = bus(Mode.SYNCHRONOUS)) {
            List<String> calls = new CopyOnWriteArrayList<>();
            Thread publisher = Thread.currentThread();
            bus.subscribe(UserCreated.class, "one", e -> calls.add("one@" + (Thread.currentThread() == publisher)));
            bus.subscribe(UserCreated.class, "two", e -> calls.add("two@" + (Thread.currentThread() == publisher)));

            CompletableFuture<Void> future = bus.publish(USER);

            assertThat(future).isCompleted();
            assertThat(calls).containsExactly("one@true", "two@true");
        }
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void unsubscribeStopsDelivery(Mode mode) {
        try (InProcessEventBus bus = bus(mode)) {
            AtomicInteger removed = new AtomicInteger();
            AtomicInteger kept = new AtomicInteger();
            Registration registration = bus.subscribe(UserCreated.class, "removed", e -> removed.incrementAndGet());
            bus.subscribe(UserCreated.class, "kept", e -> kept.incrementAndGet());
            bus.publish(USER).join();

            registration.close();
            bus.publish(USER).join();

            assertThat(registration.isActive()).isFalse();
            assertThat(removed).hasValue(1);
            assertThat(kept).hasValue(2);
            registration.close();   // idempotent
        }
    }

    @Test
    void deliversToHandlersOfSupertypesAndInterfaces() {
        try (InProcessEventBus bus = bus(Mode.SYNCHRONOUS)) {
            List<Object> orderEvents = new CopyOnWriteArrayList<>();
            List<Object> everything = new CopyOnWriteArrayList<>();
            List<Object> placedOnly = new CopyOnWriteArrayList<>();
            bus.subscribe(OrderEvent.class, orderEvents::add);
            bus.subscribe(Object.class, everything::add);
            bus.subscribe(OrderPlaced.class, placedOnly::add);

            bus.publish(new OrderPlaced("o-1")).join();
            bus.publish(new OrderCancelled("o-2")).join();
            bus.publish(USER).join();

            assertThat(orderEvents).containsExactly(new OrderPlaced("o-1"), new OrderCancelled("o-2"));
            assertThat(placedOnly).containsExactly(new OrderPlaced("o-1"));
            assertThat(everything).hasSize(3);
        }
    }

    @Test
    void publishWithoutHandlersCompletesNormally() {
        try (InProcessEventBus bus = bus(Mode.ASYNCHRONOUS)) {
            assertThat(bus.publish(USER)).succeedsWithin(Duration.ofSeconds(5));
        }
    }

    @Test
    void rejectsAWholeEventWhenThePendingLimitIsReached() throws Exception {
        try (InProcessEventBus bus = InProcessEventBus.builder().maxConcurrency(1).maxPending(2)
                .shutdownTimeout(Duration.ofSeconds(5)).build()) {
            CountDownLatch release = new CountDownLatch(1);
            AtomicInteger calls = new AtomicInteger();
            bus.subscribe(UserCreated.class, "blocked", e -> {
                calls.incrementAndGet();
                release.await();
            });
            CompletableFuture<Void> first = bus.publish(USER);
            CompletableFuture<Void> second = bus.publish(USER);

            CompletableFuture<Void> third = bus.publish(USER);

            assertThat(third).isCompletedExceptionally();
            assertThatThrownBy(third::join).hasCauseInstanceOf(RejectedExecutionException.class)
                    .hasMessageContaining("maxPending 2");
            release.countDown();
            first.get(10, TimeUnit.SECONDS);
            second.get(10, TimeUnit.SECONDS);
            assertThat(calls).hasValue(2);
            // capacity is given back once handlers finish
            assertThat(bus.publish(USER)).succeedsWithin(Duration.ofSeconds(10));
        }
    }

    @Test
    void failureListenerHearsFailuresOfFireAndForgetPublishes() {
        List<EventDispatchException> heard = new CopyOnWriteArrayList<>();
        try (InProcessEventBus bus = InProcessEventBus.builder().failureListener(heard::add).build()) {
            bus.subscribe(UserCreated.class, "broken", e -> {
                throw new IllegalStateException("nope");
            });

            bus.publish(USER);   // nobody looks at the future

            await().atMost(Duration.ofSeconds(10)).until(() -> heard.size() == 1);
            assertThat(heard.get(0).failures()).extracting(HandlerFailure::handlerName).containsExactly("broken");
        }
    }

    @Test
    void handlerNamesMustBeUniqueAndGeneratedNamesAre() {
        try (InProcessEventBus bus = bus(Mode.SYNCHRONOUS)) {
            bus.subscribe(UserCreated.class, "email", e -> { });
            assertThatThrownBy(() -> bus.subscribe(UserCreated.class, "email", e -> { }))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'email' is already subscribed");
            assertThatThrownBy(() -> bus.subscribe(UserCreated.class, " ", e -> { }))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("handlerName must not be blank");

            Registration a = bus.subscribe(UserCreated.class, e -> { });
            Registration b = bus.subscribe(UserCreated.class, e -> { });

            assertThat(a.handlerName()).startsWith("UserCreated#").isNotEqualTo(b.handlerName());
            assertThat(a.eventType()).isEqualTo(UserCreated.class);
        }
    }

    @Test
    void builderValidatesWithPreciseMessages() {
        assertThatThrownBy(() -> InProcessEventBus.builder().maxConcurrency(0))
                .hasMessage("maxConcurrency must be >= 1, but was 0");
        assertThatThrownBy(() -> InProcessEventBus.builder().maxPending(-1))
                .hasMessage("maxPending must be >= 1, but was -1");
        assertThatThrownBy(() -> InProcessEventBus.builder().shutdownTimeout(Duration.ofSeconds(-1)))
                .hasMessage("shutdownTimeout must be >= 0, but was PT-1S");
        assertThatThrownBy(() -> InProcessEventBus.builder().maxConcurrency(2).executor(Runnable::run).build())
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void closeWaitsForAcceptedEventsThenRefusesNewOnes() throws Exception {
        InProcessEventBus bus = bus(Mode.ASYNCHRONOUS);
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger finished = new AtomicInteger();
        bus.subscribe(UserCreated.class, "slow", e -> {
            started.countDown();
            release.await();
            finished.incrementAndGet();
        });
        CompletableFuture<Void> accepted = bus.publish(USER);
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<Void> closing = CompletableFuture.runAsync(bus::close);
        release.countDown();
        closing.get(20, TimeUnit.SECONDS);

        assertThat(accepted).isCompleted();
        assertThat(finished).hasValue(1);
        assertThatThrownBy(() -> bus.publish(USER).join()).hasCauseInstanceOf(TransportClosedException.class);
        assertThatThrownBy(() -> bus.subscribe(UserCreated.class, "late", e -> { }))
                .isInstanceOf(TransportClosedException.class);
    }

    @Test
    void closeAfterTheShutdownTimeoutInterruptsRunningHandlersAndReportsThem() throws Exception {
        InProcessEventBus bus = InProcessEventBus.builder().maxConcurrency(1)
                .shutdownTimeout(Duration.ofMillis(100)).failureListener(e -> { }).build();
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<Throwable> seen = new AtomicReference<>();
        bus.subscribe(UserCreated.class, "stuck", e -> {
            started.countDown();
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException interrupted) {
                seen.set(interrupted);
                throw interrupted;
            }
        });
        CompletableFuture<Void> running = bus.publish(USER);
        CompletableFuture<Void> queued = bus.publish(USER);   // waits behind "stuck": concurrency 1
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

        bus.close();

        assertThat(dispatchFailure(queued).failures()).singleElement()
                .satisfies(f -> assertThat(f.error()).isInstanceOf(TransportClosedException.class));
        assertThat(dispatchFailure(running).failures()).singleElement()
                .satisfies(f -> assertThat(f.error()).isInstanceOf(InterruptedException.class));
        assertThat(seen.get()).isInstanceOf(InterruptedException.class);
    }
}
