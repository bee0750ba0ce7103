package io.courier.eventbus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.DecodingException;
import io.courier.Headers;
import io.courier.JsonCodec;
import io.courier.Message;
import io.courier.Middleware;
import io.courier.NonRetryableException;
import io.courier.Router;
import io.courier.TransportClosedException;
import io.courier.memory.InMemoryTransport;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TransportEventBusTest {

    record OrderCreated(String orderId, BigDecimal amount) {
    }

    record PaymentCompleted(String orderId) {
    }

    interface ShippingEvent {
        String orderId();
    }

    record ParcelShipped(String orderId, String carrier) implements ShippingEvent {
    }

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final OrderCreated ORDER = new OrderCreated("o-42", new BigDecimal("99.50"));

    private final InMemoryTransport transport = InMemoryTransport.create();

    @AfterEach
    void closeTransport() {
        transport.close();
    }

    /** A bus over its own router, with quick redelivery so tests of failures run fast. */
    private TransportEventBus.Builder bus(String service) {
        return TransportEventBus.builder(transport, service)
                .register("order.created", OrderCreated.class)
                .register("payment.completed", PaymentCompleted.class)
                .subscriptionOptions(o -> o.failureRedeliveryDelay(Duration.ofMillis(50)).shutdownTimeout(Duration.ofSeconds(5)));
    }

    /** Stands in for the DeadLetterMiddleware: records non-retryable failures and settles them. */
    private static Middleware deadLetterRecorder(List<Throwable> deadLettered) {
        return next -> delivery -> {
            try {
                next.handle(delivery);
            } catch (NonRetryableException e) {
                deadLettered.add(e);
                delivery.markDeadLettered(delivery.topic() + ".dlq", "non-retryable");
            }
        };
    }

    @Test
    void roundTripsATypedEventWithTypeAndContentTypeHeaders() {
        List<Message> raw = new CopyOnWriteArrayList<>();
        transport.subscriber().subscribe("events", "raw-reader", d -> raw.add(d.message()));
        try (TransportEventBus bus = bus("billing").build()) {
            List<OrderCreated> received = new CopyOnWriteArrayList<>();
            bus.subscribe(OrderCreated.class, "invoice", received::add);

            assertThat(bus.publish(ORDER)).succeedsWithin(WAIT);

            await().atMost(WAIT).until(() -> received.size() == 1);
            assertThat(received.get(0)).isEqualTo(ORDER);
            await().atMost(WAIT).until(() -> raw.size() == 1);
            assertThat(raw.get(0).headers())
                    .containsEntry(Headers.EVENT_TYPE, "order.created")
                    .containsEntry(Headers.CONTENT_TYPE, JsonCodec.CONTENT_TYPE)
                    .containsEntry(Headers.EVENT_SOURCE, "billing");
        }
    }

    @Test
    void failingHandlerIsRetriedAloneWithoutRerunningTheHandlersThatSucceeded() {
        try (TransportEventBus bus = bus("billing").build()) {
            AtomicInteger auditCalls = new AtomicInteger();
            AtomicInteger invoiceCalls = new AtomicInteger();
            bus.subscribe(OrderCreated.class, "audit", e -> auditCalls.incrementAndGet());
            bus.subscribe(OrderCreated.class, "invoice", e -> {
                if (invoiceCalls.incrementAndGet() < 3) {
                    throw new IllegalStateException("invoice service unavailable");
                }
            });

            bus.publish(ORDER).join();

            await().atMost(WAIT).until(() -> invoiceCalls.get() == 3);
            await().atMost(WAIT).until(() -> transport.backlog("events", "billing.invoice") == 0
                    && transport.backlog("events", "billing.audit") == 0);
            assertThat(auditCalls).hasValue(1);
        }
    }

    @Test
    void everyServiceReceivesEveryEvent() {
        try (TransportEventBus billing = bus("billing").build();
             TransportEventBus shipping = bus("shipping").build()) {
            List<String> billed = new CopyOnWriteArrayList<>();
            List<String> shipped = new CopyOnWriteArrayList<>();
            billing.subscribe(OrderCreated.class, "orders", e -> billed.add(e.orderId()));
            shipping.subscribe(OrderCreated.class, "orders", e -> shipped.add(e.orderId()));

            for (int i = 1; i <= 5; i++) {
                billing.publish(new OrderCreated("o-" + i, BigDecimal.ONE)).join();
            }

            await().atMost(WAIT).until(() -> billed.size() == 5 && shipped.size() == 5);
            assertThat(billed).containsExactlyInAnyOrder("o-1", "o-2", "o-3", "o-4", "o-5");
            assertThat(shipped).containsExactlyInAnyOrder("o-1", "o-2", "o-3", "o-4", "o-5");
        }
    }

    @Test
    void handlerSubscribedForTheFirstTimeReceivesEventsPublishedBefore() {
        try (TransportEventBus publisher = bus("orders").build()) {
            publisher.publish(new OrderCreated("early-1", BigDecimal.ONE)).join();
            publisher.publish(new OrderCreated("early-2", BigDecimal.ONE)).join();
        }
        // a service that was not running when the events were published (or had crashed)
        try (TransportEventBus late = bus("billing").build()) {
            List<String> received = new CopyOnWriteArrayList<>();
            late.subscribe(OrderCreated.class, "invoice", e -> received.add(e.orderId()));

            await().atMost(WAIT).until(() -> received.size() == 2);
            assertThat(received).containsExactlyInAnyOrder("early-1", "early-2");
        }
    }

    @Test
    void eventsPublishedWhileAServiceIsDownWaitInItsGroup() {
        List<String> received = new CopyOnWriteArrayList<>();
        try (TransportEventBus billing = bus("billing").build()) {
            billing.subscribe(OrderCreated.class, "invoice", e -> received.add(e.orderId()));
            billing.publish(new OrderCreated("before-crash", BigDecimal.ONE)).join();
            await().atMost(WAIT).until(() -> received.size() == 1);
        }
        try (TransportEventBus orders = bus("orders").build()) {
            orders.publish(new OrderCreated("while-down", BigDecimal.ONE)).join();
        }
        assertThat(transport.backlog("events", "billing.invoice")).isEqualTo(1);

        try (TransportEventBus restarted = bus("billing").build()) {
            restarted.subscribe(OrderCreated.class, "invoice", e -> received.add(e.orderId()));
            await().atMost(WAIT).until(() -> received.size() == 2);
        }
        assertThat(received).containsExactly("before-crash", "while-down");
    }

    @Test
    void subscribingWorksBeforeAndAfterTheRouterStarts() {
        try (Router router = Router.builder(transport).build();
             TransportEventBus bus = TransportEventBus.builder(router, "billing").build()) {
            List<String> early = new CopyOnWriteArrayList<>();
            List<String> late = new CopyOnWriteArrayList<>();
            bus.subscribe(OrderCreated.class, "early", e -> early.add(e.orderId()));
            bus.publish(ORDER).join();

            router.start();
            bus.subscribe(OrderCreated.class, "late", e -> late.add(e.orderId()));
            bus.publish(new OrderCreated("o-43", BigDecimal.TEN)).join();

            await().atMost(WAIT).until(() -> early.size() == 2 && late.size() == 2);
        }
    }

    @Test
    void knownEventsOfAnotherTypeAreAcknowledgedWithoutCallingTheHandler() {
        try (TransportEventBus bus = bus("billing").build()) {
            List<Object> orders = new CopyOnWriteArrayList<>();
            bus.subscribe(OrderCreated.class, "invoice", orders::add);

            bus.publish(new PaymentCompleted("o-42")).join();
            bus.publish(ORDER).join();

            await().atMost(WAIT).until(() -> orders.size() == 1 && transport.backlog("events", "billing.invoice") == 0);
            assertThat(orders).containsExactly(ORDER);
        }
    }

    @Test
    void handlerOfAnInterfaceReceivesRegisteredImplementations() {
        try (TransportEventBus bus = bus("shipping").register("parcel.shipped", ParcelShipped.class).build()) {
            List<ShippingEvent> received = new CopyOnWriteArrayList<>();
            bus.subscribe(ShippingEvent.class, "tracking", received::add);

            bus.publish(ORDER).join();
            bus.publish(new ParcelShipped("o-42", "DHL")).join();

            await().atMost(WAIT).until(() -> received.size() == 1 && transport.backlog("events", "shipping.tracking") == 0);
            assertThat(received).containsExactly(new ParcelShipped("o-42", "DHL"));
        }
    }

    @Test
    void unknownEventTypeFailsAsNonRetryableSoTheDeadLetterMiddlewareStoresIt() {
        List<Throwable> deadLettered = new CopyOnWriteArrayList<>();
        try (Router router = Router.builder(transport).use(deadLetterRecorder(deadLettered)).build();
             TransportEventBus bus = TransportEventBus.builder(router, "billing")
                     .register("order.created", OrderCreated.class).build()) {
            List<OrderCreated> received = new CopyOnWriteArrayList<>();
            bus.subscribe(OrderCreated.class, "invoice", received::add);
            router.start();

            router.publisher().publish("events", Message.builder().payload("{}".getBytes())
                    .header(Headers.EVENT_TYPE, "mystery.happened").build()).join();
            router.publisher().publish("events", Message.ofText("{}")).join();   // no type header at all
            bus.publish(ORDER).join();

            await().atMost(WAIT).until(() -> received.size() == 1 && deadLettered.size() == 2);
            assertThat(deadLettered).allSatisfy(e -> assertThat(e).isInstanceOf(UnknownEventTypeException.class)
                    .hasMessageContaining("group billing.invoice"));
            // the subscription handles messages concurrently: their order is not fixed
            assertThat(deadLettered).extracting(e -> ((UnknownEventTypeException) e).typeName())
                    .containsExactlyInAnyOrder(java.util.Optional.of("mystery.happened"), java.util.Optional.empty());
            assertThat(deadLettered).extracting(Throwable::getMessage)
                    .anySatisfy(m -> assertThat(m).contains("unknown event type 'mystery.happened'"))
                    .anySatisfy(m -> assertThat(m).contains("no ce-type header"));
            assertThat(received).containsExactly(ORDER);
        }
    }

    @Test
    void unknownEventTypesAreAcknowledgedWhenIgnoredByPolicyOrByName() {
        try (TransportEventBus ignoreAll = bus("billing").unknownTypePolicy(UnknownEventTypePolicy.IGNORE).build();
             TransportEventBus ignoreNamed = bus("shipping").ignoreTypes("mystery.happened").build()) {
            List<OrderCreated> billed = new CopyOnWriteArrayList<>();
            List<OrderCreated> shipped = new CopyOnWriteArrayList<>();
            ignoreAll.subscribe(OrderCreated.class, "invoice", billed::add);
            ignoreNamed.subscribe(OrderCreated.class, "label", shipped::add);

            transport.publisher().publish("events", Message.builder().payload("{}".getBytes())
                    .header(Headers.EVENT_TYPE, "mystery.happened").build()).join();
            ignoreAll.publish(ORDER).join();

            await().atMost(WAIT).until(() -> billed.size() == 1 && shipped.size() == 1
                    && transport.backlog("events", "billing.invoice") == 0
                    && transport.backlog("events", "shipping.label") == 0);
        }
    }

    @Test
    void undecodablePayloadFailsWithANonRetryableDecodingException() {
        List<Throwable> deadLettered = new CopyOnWriteArrayList<>();
        try (Router router = Router.builder(transport).use(deadLetterRecorder(deadLettered)).build();
             TransportEventBus bus = TransportEventBus.builder(router, "billing")
                     .register("order.created", OrderCreated.class).build()) {
            bus.subscribe(OrderCreated.class, "invoice", e -> { });
            router.start();

            router.publisher().publish("events", Message.builder().payload("not json".getBytes())
                    .header(Headers.EVENT_TYPE, "order.created").build()).join();

            await().atMost(WAIT).until(() -> deadLettered.size() == 1);
            assertThat(deadLettered.get(0)).isInstanceOf(DecodingException.class);
        }
    }

    @Test
    void unsubscribedHandlerStopsReceivingWhileItsGroupKeepsTheEvents() {
        try (TransportEventBus bus = bus("billing").build()) {
            AtomicInteger invoices = new AtomicInteger();
            List<String> audited = new CopyOnWriteArrayList<>();
            Registration invoice = bus.subscribe(OrderCreated.class, "invoice", e -> invoices.incrementAndGet());
            bus.subscribe(OrderCreated.class, "audit", e -> audited.add(e.orderId()));
            bus.publish(ORDER).join();
            await().atMost(WAIT).until(() -> invoices.get() == 1 && audited.size() == 1);

            invoice.close();
            bus.publish(new OrderCreated("o-43", BigDecimal.ONE)).join();

            await().atMost(WAIT).until(() -> audited.size() == 2);
            assertThat(invoice.isActive()).isFalse();
            assertThat(transport.backlog("events", "billing.invoice")).isEqualTo(1);
            assertThat(invoices).hasValue(1);

            bus.subscribe(OrderCreated.class, "invoice", e -> invoices.incrementAndGet());
            await().atMost(WAIT).until(() -> invoices.get() == 2);
        }
    }

    @Test
    void handlerUnsubscribedBeforeTheRouterStartsNeverRunsAndLeavesTheEventToItsGroup() {
        try (Router router = Router.builder(transport).build();
             TransportEventBus bus = TransportEventBus.builder(router, "billing")
                     .subscriptionOptions(o -> o.failureRedeliveryDelay(Duration.ofMillis(50))).build()) {
            AtomicInteger goneCalls = new AtomicInteger();
            List<OrderCreated> kept = new CopyOnWriteArrayList<>();
            bus.subscribe(OrderCreated.class, "gone", e -> goneCalls.incrementAndGet()).close();
            bus.subscribe(OrderCreated.class, "kept", kept::add);
            bus.publish(ORDER).join();

            router.start();

            await().atMost(WAIT).until(() -> kept.size() == 1 && router.subscriptions().stream()
                    .filter(s -> s.options().group().equals("billing.gone")).noneMatch(s -> s.isRunning()));
            assertThat(goneCalls).hasValue(0);
            assertThat(transport.backlog("events", "billing.gone")).isEqualTo(1);
        }
    }

    @Test
    void unnamedHandlersAreNamedAfterTheEventTypeAndMustNotShareAGroup() {
        try (TransportEventBus bus = bus("billing").build()) {
            Registration r = bus.subscribe(OrderCreated.class, e -> { });

            assertThat(r.handlerName()).isEqualTo("order.created");
            assertThat(bus.groupFor(r.handlerName())).isEqualTo("billing.order.created");
            assertThatThrownBy(() -> bus.subscribe(OrderCreated.class, e -> { }))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'order.created' is already subscribed");
        }
    }

    @Test
    void unregisteredClassesTravelUnderTheirSimpleName() {
        try (TransportEventBus publisher = TransportEventBus.builder(transport, "shipping").build();
             TransportEventBus consumer = TransportEventBus.builder(transport, "tracking").build()) {
            List<ParcelShipped> received = new CopyOnWriteArrayList<>();
            consumer.subscribe(ParcelShipped.class, "log", received::add);

            assertThat(publisher.toMessage(new ParcelShipped("o-1", "UPS")).header(Headers.EVENT_TYPE)).contains("ParcelShipped");
            publisher.publish(new ParcelShipped("o-1", "UPS")).join();

            await().atMost(WAIT).until(() -> received.size() == 1);
            assertThat(received).containsExactly(new ParcelShipped("o-1", "UPS"));
        }
    }

    @Test
    void typeRegistryRejectsClashes() {
        assertThatThrownBy(() -> TransportEventBus.builder(transport, "billing")
                .register("order.created", OrderCreated.class)
                .register("order.created", PaymentCompleted.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'order.created' is already registered for " + OrderCreated.class.getName());
        assertThatThrownBy(() -> TransportEventBus.builder(transport, "billing")
                .register("order.created", OrderCreated.class)
                .register("order.placed", OrderCreated.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("already registered as event type 'order.created'");
    }

    @Test
    void keyFunctionSetsTheMessageKey() {
        try (TransportEventBus bus = bus("orders").key(OrderCreated.class, OrderCreated::orderId).build()) {
            assertThat(bus.toMessage(ORDER).key()).contains("o-42");
            assertThat(bus.toMessage(new PaymentCompleted("o-42")).key()).isEmpty();
        }
    }

    @Test
    void publishCompletesExceptionallyInsteadOfThrowing() {
        TransportEventBus bus = bus("orders").build();
        Object notEncodable = new Object() {
            @SuppressWarnings("unused")
            public Object getSelf() {
                return this;
            }
        };
        assertThat(bus.publish(notEncodable)).isCompletedExceptionally();

        bus.close();

        assertThatThrownBy(() -> bus.publish(ORDER).join()).hasCauseInstanceOf(TransportClosedException.class);
        assertThatThrownBy(() -> bus.subscribe(OrderCreated.class, "late", e -> { }))
                .isInstanceOf(TransportClosedException.class);
    }
}
