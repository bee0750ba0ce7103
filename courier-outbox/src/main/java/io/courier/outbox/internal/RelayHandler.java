package io.courier.outbox.internal;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Message;
import io.courier.PublishRefusedException;
import io.courier.Publisher;
import io.courier.outbox.Outbox;
import io.courier.spi.engine.RateLimitedLog;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends one outbox message to its destination and returns only after the destination acknowledged
 * it (so the outbox row is acknowledged after the broker's); parks refusals; asks for a later
 * retry, with exponential backoff, after any other failure.
 */
public final class RelayHandler implements Handler {

    private static final Logger log = LoggerFactory.getLogger(RelayHandler.class);

    private final String destination;
    private final Publisher publisher;
    private final ParkingTable parking;
    private final long publishTimeoutNanos;
    private final Duration minBackoff;
    private final Duration maxBackoff;
    private final RateLimitedLog failures;
    private final LongAdder relayed = new LongAdder();
    private final LongAdder parked = new LongAdder();
    private final LongAdder retried = new LongAdder();

    /** A handler that relays to {@code publisher}, known as {@code destination}. */
    public RelayHandler(String destination, Publisher publisher, ParkingTable parking, Duration publishTimeout,
                        Duration minBackoff, Duration maxBackoff, Clock clock) {
        this.destination = destination;
        this.publisher = publisher;
        this.parking = parking;
        this.publishTimeoutNanos = publishTimeout.toNanos();
        this.minBackoff = minBackoff;
        this.maxBackoff = maxBackoff;
        this.failures = new RateLimitedLog(log, clock, Duration.ofSeconds(30));
    }

    @Override
    public void handle(Delivery delivery) throws Exception {
        Message stored = delivery.message();
        String topic = stored.header(Outbox.TOPIC_HEADER).orElse(null);
        if (topic == null || topic.isBlank()) {
            park(delivery, "(none)", stored, "the outbox message has no header " + Outbox.TOPIC_HEADER
                    + ", so its destination topic is unknown; it was not written by an outbox writer", "IllegalStateException");
            return;
        }
        Message out = stored.toBuilder().removeHeader(Outbox.TOPIC_HEADER).build();
        try {
            CompletableFuture<?> sent = publisher.publish(topic, out);
            sent.get(publishTimeoutNanos, TimeUnit.NANOSECONDS);
        } catch (ExecutionException | CompletionException e) {
            failed(delivery, topic, out, e.getCause() == null ? e : e.getCause());
            return;
        } catch (TimeoutException e) {
            retry(delivery, topic, out, "no acknowledgement from the destination within "
                    + Duration.ofNanos(publishTimeoutNanos).toMillis() + " ms (it may have been stored)");
            return;
        } catch (PublishRefusedException | IllegalArgumentException e) {
            park(delivery, topic, out, describe(e), e.getClass().getName());
            return;
        }
        relayed.increment();
        failures.recovered("outbox relay to destination '" + destination + "' is sending again");
    }

    private void failed(Delivery delivery, String topic, Message out, Throwable cause) {
        if (cause instanceof PublishRefusedException || cause instanceof IllegalArgumentException) {
            park(delivery, topic, out, describe(cause), cause.getClass().getName());
        } else {
            retry(delivery, topic, out, describe(cause));
        }
    }

    private void park(Delivery delivery, String topic, Message out, String reason, String errorClass) {
        parking.park(destination, topic, out, reason, errorClass, delivery.attempt());
        parked.increment();
        log.warn("outbox message {} for topic '{}' of destination '{}' was refused and is parked: {}", out.id(), topic,
                destination, reason);
    }

    private void retry(Delivery delivery, String topic, Message out, String why) {
        Duration delay = backoff(delivery.attempt());
        delivery.retryAfter(delay, Map.of());
        retried.increment();
        failures.warn("outbox relay to destination '" + destination + "' failed to send message " + out.id() + " to topic '"
                + topic + "' (attempt " + delivery.attempt() + "), trying again in " + delay.toMillis() + " ms: " + why);
    }

    private Duration backoff(int attempt) {
        double millis = minBackoff.toMillis() * Math.pow(2, Math.min(Math.max(0, attempt - 1), 40));
        return Duration.ofMillis((long) Math.min(millis, maxBackoff.toMillis()));
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    /** Messages published. */
    public long relayed() {
        return relayed.sum();
    }

    /** Messages parked. */
    public long parkedCount() {
        return parked.sum();
    }

    /** Sends scheduled again. */
    public long retried() {
        return retried.sum();
    }
}
