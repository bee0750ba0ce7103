package io.courier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.courier.eventbus.TransportEventBus;
import io.courier.memory.InMemoryTransport;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Router#publish(String, Object)} and {@link TypedPublisher}, over the in-memory transport. */
class TypedPublishTest {

    record OrderPlaced(long orderNo, String customer, long amountCents) {
    }

    private final InMemoryTransport transport = InMemoryTransport.create();
    private final List<Message> published = new CopyOnWriteArrayList<>();
    private final Router router = Router.builder(transport)
            .listener(new LifecycleListener() {
                @Override
                public void onPublished(String topic, Message message, PublishResult result) {
                    published.add(message);
                }
            })
            .build();

    @AfterEach
    void close() {
        router.close();
        transport.close();
    }

    @Test
    void publishedValueIsReceivedDecodedByTypedRouteWithContentAndEventTypeHeaders() {
        List<OrderPlaced> orders = new CopyOnWriteArrayList<>();
        List<Message> messages = new CopyOnWriteArrayList<>();
        router.route("orders", "billing", OrderPlaced.class, (order, delivery) -> {
            orders.add(order);
            messages.add(delivery.message());
        }).start();
        OrderPlaced order = new OrderPlaced(42, "customer-7", 1999);

        PublishResult result = router.publish("orders", order).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> orders.size() == 1);
        assertThat(orders).containsExactly(order);
        Message received = messages.get(0);
        assertThat(received.id()).isEqualTo(result.messageId());
        assertThat(received.key()).isEmpty();
        assertThat(received.headers())
                .containsEntry(Headers.CONTENT_TYPE, "application/json")
                .containsEntry(Headers.EVENT_TYPE, "OrderPlaced");
        // through the router's own publisher: its listener heard the publish
        assertThat(published).extracting(Message::id).containsExactly(result.messageId());
    }

    @Test
    void explicitKeyBecomesTheMessageKey() {
        List<Message> received = new CopyOnWriteArrayList<>();
        router.route("orders", "billing", OrderPlaced.class, (order, delivery) -> received.add(delivery.message())).start();

        router.publish("orders", "customer-7", new OrderPlaced(1, "customer-7", 100)).join();

        await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 1);
        assertThat(received.get(0).key()).contains("customer-7");
    }

    @Test
    void keyFunctionKeysEveryMessageAndEachKeyIsHandledInPublishOrder() {
        Map<String, List<Long>> seen = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        List<String> overlaps = new CopyOnWriteArrayList<>();
        List<Message> wrongKeys = new CopyOnWriteArrayList<>();
        AtomicInteger total = new AtomicInteger();
        router.route(SubscriptionOptions.builder("orders", "billing").concurrency(4).build(), OrderPlaced.class, (order, delivery) -> {
            if (!delivery.message().key().equals(Optional.of(order.customer()))) {
                wrongKeys.add(delivery.message());
            }
            if (running.computeIfAbsent(order.customer(), k -> new AtomicInteger()).incrementAndGet() > 1) {
                overlaps.add(order.customer());
            }
            seen.computeIfAbsent(order.customer(), k -> new CopyOnWriteArrayList<>()).add(order.orderNo());
            Thread.yield();
            running.get(order.customer()).decrementAndGet();
            total.incrementAndGet();
        }).start();
        TypedPublisher<OrderPlaced> orders = router.publisher(OrderPlaced.class, OrderPlaced::customer);
        List<OrderPlaced> batch = new ArrayList<>();
        for (long i = 1; i <= 300; i++) {
            batch.add(new OrderPlaced(i, "customer-" + (i % 3), 1000 + i));
        }

        List<PublishResult> results = orders.publishAll("orders", batch.subList(0, 150)).join();
        batch.subList(150, 300).forEach(o -> orders.publish("orders", o).join());

        assertThat(results).hasSize(150);
        await().atMost(Duration.ofSeconds(20)).until(() -> total.get() == 300);
        assertThat(seen).hasSize(3);
        seen.forEach((customer, orderNos) -> assertThat(orderNos).as("order of %s", customer).hasSize(100).isSorted());
        assertThat(overlaps).as("two orders of one customer handled at once").isEmpty();
        assertThat(wrongKeys).as("messages whose key is not the order's customer").isEmpty();
    }

    @Test
    void keyFunctionReturningNullPublishesWithoutKey() {
        TypedPublisher<OrderPlaced> orders = router.publisher(OrderPlaced.class, o -> null);

        router.route("orders", "billing", OrderPlaced.class, (order, delivery) -> { }).start();
        orders.publish("orders", new OrderPlaced(1, "c", 1)).join();

        assertThat(published).singleElement().satisfies(m -> assertThat(m.key()).isEmpty());
    }

    @Test
    void eventTypeNameReachesTheEventBusRegisteredUnderIt() {
        List<OrderPlaced> handled = new CopyOnWriteArrayList<>();
        try (TransportEventBus bus = TransportEventBus.builder(router, "billing")
                .register("order.placed", OrderPlaced.class)
                .build()) {
            bus.subscribe(OrderPlaced.class, "invoice", handled::add);
            router.start();
            TypedPublisher<OrderPlaced> orders = router.publisher(OrderPlaced.class).withEventType("order.placed");

            orders.publish(bus.topic(), new OrderPlaced(7, "c", 70)).join();

            await().atMost(Duration.ofSeconds(10)).until(() -> handled.size() == 1);
            assertThat(handled).containsExactly(new OrderPlaced(7, "c", 70));
            assertThat(orders.toMessage(new OrderPlaced(8, "c", 80)).header(Headers.EVENT_TYPE)).contains("order.placed");
        }
    }

    @Test
    void nullValuesAreRejectedBeforeAnythingIsPublished() {
        TypedPublisher<OrderPlaced> orders = router.publisher(OrderPlaced.class, OrderPlaced::customer);

        assertThatThrownBy(() -> router.publish("orders", (Object) null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("value to publish to 'orders' must not be null");
        assertThatThrownBy(() -> router.publish("orders", "k", null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("value to publish to 'orders' must not be null");
        assertThatThrownBy(() -> orders.publish("orders", null))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("value to publish to 'orders' must not be null");
        List<OrderPlaced> withNull = new ArrayList<>(List.of(new OrderPlaced(1, "c", 1)));
        withNull.add(null);
        assertThatThrownBy(() -> orders.publishAll("orders", withNull))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("values[1] to publish to 'orders' must not be null");
        assertThat(published).isEmpty();
    }

    @Test
    void aMessageIsPublishedAsItIsNotEncodedAsAValue() {
        Message message = Message.ofText("ready-made");

        router.publish("orders", message).join();
        assertThatThrownBy(() -> router.publish("orders", (Object) message))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("but was a Message (id " + message.id() + ")");

        assertThat(published).singleElement().satisfies(m -> assertThat(m.payloadAsText()).isEqualTo("ready-made"));
    }

    @Test
    void blankEventTypeIsRejected() {
        assertThatThrownBy(() -> router.publisher(OrderPlaced.class).withEventType(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("eventType must not be blank");
    }
}
