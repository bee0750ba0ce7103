package io.courier.rabbitmq.internal;

import io.courier.PublishException;
import io.courier.PublishRefusedException;
import io.courier.PublishResult;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * One published message waiting for the broker's confirm. Its future is completed on the
 * completion executor, never on the connection's I/O thread, so callbacks that block (or publish and
 * wait) cannot stall the connection; the messages settled by one confirm frame are completed one
 * after the other by one task. Thread-safe; completes at most once.
 */
final class PendingConfirm {

    final String topic;
    final String messageId;
    final String exchange;
    final String routingKey;
    /** The body's size in bytes: RabbitMQ's size refusal names it, and so the message it refused. */
    final int bodySize;
    final CompletableFuture<PublishResult> future = new CompletableFuture<>();
    final long deadlineNanos;
    private volatile String returnedBecause;

    PendingConfirm(String topic, String messageId, String exchange, String routingKey, int bodySize, long deadlineNanos) {
        this.topic = topic;
        this.messageId = messageId;
        this.exchange = exchange;
        this.routingKey = routingKey;
        this.bodySize = bodySize;
        this.deadlineNanos = deadlineNanos;
    }

    /** Records that the broker returned this message as unroutable; the ack that follows fails it. */
    void markReturned(String reason) {
        returnedBecause = reason;
    }

    boolean returned() {
        return returnedBecause != null;
    }

    /**
     * Settles messages the broker confirmed ({@code ack}) or refused, in one task on {@code executor}:
     * a confirm frame with {@code multiple} set settles a whole run of messages, and one hand-off for
     * all of them costs far less than one each.
     */
    static void settle(List<PendingConfirm> confirms, boolean ack, Executor executor) {
        run(executor, () -> {
            for (PendingConfirm p : confirms) {
                if (ack) {
                    p.acked();
                } else {
                    p.nacked();
                }
            }
        });
    }

    /** The broker acked: success, unless the message was returned as unroutable first. */
    private void acked() {
        String returned = returnedBecause;
        if (returned != null) {
            future.completeExceptionally(new PublishRefusedException(topic, "message " + messageId + " to topic '" + topic
                    + "' is unroutable: " + returned + "; no queue is bound to exchange '" + exchange + "' for routing key '"
                    + routingKey + "'. Subscribe a consumer group first, or pre-declare groups with"
                    + " RabbitMqConfig.Builder.declareGroups"));
        } else {
            future.complete(PublishResult.of(messageId, topic));
        }
    }

    /** The broker nacked. */
    private void nacked() {
        future.completeExceptionally(new PublishException(topic, "RabbitMQ refused message " + messageId + " to topic '"
                + topic + "' (basic.nack: the broker could not store it); it was not published"));
    }

    void fail(Executor executor, Throwable error) {
        run(executor, () -> future.completeExceptionally(error));
    }

    private static void run(Executor executor, Runnable r) {
        try {
            executor.execute(r);
        } catch (RejectedExecutionException e) {
            r.run();
        }
    }
}
