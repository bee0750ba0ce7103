package io.courier.middleware;

import static io.courier.middleware.TestDeliveries.delivery;
import static io.courier.middleware.TestDeliveries.message;
import static org.assertj.core.api.Assertions.assertThat;

import io.courier.Correlation;
import io.courier.Headers;
import io.courier.Message;
import io.courier.Router;
import io.courier.memory.InMemoryTransport;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CorrelationMiddlewareTest {

    @Test
    void bindsTheMessageIdWhenThereIsNoCorrelationHeader() throws Exception {
        AtomicReference<String> seen = new AtomicReference<>();

        new CorrelationMiddleware().wrap(d -> seen.set(Correlation.current().orElse(null))).handle(delivery(message("order-42"), 1));

        assertThat(seen.get()).isEqualTo("order-42");
        assertThat(Correlation.current()).isEmpty();   // restored afterwards
    }

    @Test
    void bindsTheCorrelationHeaderWhenPresent() throws Exception {
        AtomicReference<String> seen = new AtomicReference<>();
        Message m = message("order-42").withHeader(Headers.CORRELATION_ID, "checkout-7");

        new CorrelationMiddleware().wrap(d -> seen.set(Correlation.current().orElse(null))).handle(delivery(m, 1));

        assertThat(seen.get()).isEqualTo("checkout-7");
    }

    @Test
    void messagesPublishedFromTheHandlerCarryTheCorrelationId() throws Exception {
        BlockingQueue<Message> shipments = new LinkedBlockingQueue<>();
        try (InMemoryTransport transport = InMemoryTransport.create();
             Router router = Router.builder(transport).use(new CorrelationMiddleware()).build()) {
            router.route("orders", "shipping", d -> router.publisher()
                    .publish("shipments", Message.ofText("ship " + d.message().payloadAsText())).join());
            router.route("shipments", "audit", d -> shipments.add(d.message()));
            router.start();

            Message first = Message.builder().id("order-1").payload("a".getBytes()).build();
            Message second = Message.builder().id("order-2").header(Headers.CORRELATION_ID, "checkout-9").payload("b".getBytes()).build();
            router.publisher().publish("orders", first).join();
            router.publisher().publish("orders", second).join();

            Message shipA = shipments.poll(10, TimeUnit.SECONDS);
            Message shipB = shipments.poll(10, TimeUnit.SECONDS);
            assertThat(shipA).isNotNull();
            assertThat(shipB).isNotNull();
            assertThat(java.util.List.of(shipA, shipB))
                    .extracting(m -> m.payloadAsText() + "=" + m.header(Headers.CORRELATION_ID).orElse("none"))
                    .containsExactlyInAnyOrder("ship a=order-1", "ship b=checkout-9");
        }
    }
}
