package io.courier.jdbc;

import io.courier.Delivery;
import io.courier.Handler;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

/** A handler that records every delivery it is given. */
final class Recorder implements Handler {

    final List<Delivery> deliveries = new CopyOnWriteArrayList<>();

    @Override
    public void handle(Delivery delivery) {
        deliveries.add(delivery);
    }

    List<String> texts() {
        return deliveries.stream().map(d -> d.message().payloadAsText()).collect(Collectors.toList());
    }

    int count() {
        return deliveries.size();
    }
}
