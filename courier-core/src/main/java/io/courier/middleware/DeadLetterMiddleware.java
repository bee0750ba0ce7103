package io.courier.middleware;

import io.courier.Delivery;
import io.courier.Handler;
import io.courier.Headers;
import io.courier.Message;
import io.courier.Middleware;
import io.courier.PublishException;
import io.courier.PublishResult;
import io.courier.Publisher;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves messages whose handling failed for good to a dead-letter topic, so they stop blocking or
 * looping and can be inspected and replayed later.
 *
 * <pre>{@code
 * Router router = Router.builder(transport)
 *     .use(new RecoveryMiddleware())
 *     .use(DeadLetterMiddleware.to(transport.publisher()))   // "orders" -> "orders.dlq"
 *     .use(RetryMiddleware.defaults())                       // inside: its final failures reach the DLQ
 *     .build();
 * }</pre>
 *
 * <p><b>What it does.</b> Every failure that reaches it is final: it sits outside the
 * {@link RetryMiddleware}, which only lets a failure through once attempts are used up or the error
 * is not retryable. (This middleware has no attempt limit of its own. Without a retry middleware
 * every failure is dead-lettered at once.) It then
 * <ol>
 *   <li>publishes the original message (same id, key, payload and headers) to the dead-letter topic
 *       ({@code <topic>.dlq} unless a {@link Builder#topicNamer topic namer} says otherwise) with these
 *       headers added: {@link Headers#ORIGINAL_TOPIC} (kept when present), {@link Headers#ATTEMPTS}
 *       ({@link Delivery#attempt()}), {@link Headers#FIRST_FAILURE_AT} (kept from the first failure
 *       when a retry recorded it), {@link Headers#LAST_FAILURE_AT}, {@link Headers#EXCEPTION_CLASS},
 *       {@link Headers#EXCEPTION_MESSAGE} (at most 1,000 characters), {@link Headers#DEAD_LETTER_REASON}
 *       and {@link Headers#DEAD_LETTER_GROUP};</li>
 *   <li>waits until that publish is durable (at most the {@link Builder#publishTimeout publish timeout});</li>
 *   <li>calls {@link Delivery#markDeadLettered} and returns normally, so the source message is acknowledged.</li>
 * </ol>
 * The reason is {@value #REASON_NON_RETRYABLE} when the failure is not retryable (by default: it is or
 * is caused by a {@link io.courier.NonRetryableException} such as a {@code DecodingException}; see
 * {@link Builder#nonRetryableIf}) and {@value #REASON_MAX_ATTEMPTS} otherwise.
 *
 * <p><b>Nothing is lost.</b> If the dead-letter publish fails or is not confirmed in time, the
 * middleware throws a {@link PublishException} (the handler's failure attached as suppressed) and
 * the source message is <em>not</em> acknowledged: the transport redelivers it later. An
 * interruption (the consumer is shutting down) is rethrown as is and never dead-lettered.
 *
 * <p>Dead-lettering can publish a message more than once (a crash between the dead-letter publish
 * and the source acknowledgement); dead letters keep the message id, so duplicates are easy to spot.
 * Immutable and thread-safe.
 */
public final class DeadLetterMiddleware implements Middleware {

    /** Suffix of the default dead-letter topic: {@code orders} goes to {@code orders.dlq}. */
    public static final String DEFAULT_SUFFIX = ".dlq";
    /** Default {@link Builder#publishTimeout publish timeout}: 30 seconds. */
    public static final Duration DEFAULT_PUBLISH_TIMEOUT = Duration.ofSeconds(30);
    /** {@link Headers#DEAD_LETTER_REASON} of a retryable failure that ran out of attempts. */
    public static final String REASON_MAX_ATTEMPTS = "max-attempts";
    /** {@link Headers#DEAD_LETTER_REASON} of a failure that retrying cannot fix. */
    public static final String REASON_NON_RETRYABLE = "non-retryable";

    private static final Logger log = LoggerFactory.getLogger(DeadLetterMiddleware.class);

    private final Publisher publisher;
    private final Function<Delivery, String> topicNamer;
    private final Predicate<Throwable> nonRetryableIf;
    private final Duration publishTimeout;
    private final Clock clock;

    private DeadLetterMiddleware(Builder b) {
        this.publisher = b.publisher;
        this.topicNamer = b.topicNamer;
        this.nonRetryableIf = b.nonRetryableIf;
        this.publishTimeout = b.publishTimeout;
        this.clock = b.clock;
    }

    /** Dead-letters to {@code <topic>.dlq} through {@code publisher}, with default settings. */
    public static DeadLetterMiddleware to(Publisher publisher) {
        return builder(publisher).build();
    }

    /** A builder publishing dead letters through {@code publisher}. */
    public static Builder builder(Publisher publisher) {
        return new Builder(publisher);
    }

    /** The default dead-letter topic of {@code delivery}: its topic plus {@value #DEFAULT_SUFFIX}. */
    public static String defaultTopic(Delivery delivery) {
        return delivery.topic() + DEFAULT_SUFFIX;
    }

    @Override
    public Handler wrap(Handler next) {
        Objects.requireNonNull(next, "next");
        return delivery -> {
            try {
                next.handle(delivery);
            } catch (Exception | Error e) {
                if (Failures.isInterruption(e) || Thread.currentThread().isInterrupted()) {
                    throw e;   // shutting down: leave the message for redelivery, do not dead-letter it
                }
                deadLetter(delivery, e);
            }
        };
    }

    private void deadLetter(Delivery delivery, Throwable failure) throws InterruptedException {
        String reason = nonRetryableIf.test(failure) ? REASON_NON_RETRYABLE : REASON_MAX_ATTEMPTS;
        String topic = topicNamer.apply(delivery);
        if (topic == null || topic.isBlank()) {
            PublishException e = new PublishException(String.valueOf(topic), "dead-letter topic namer returned '"
                    + topic + "' for " + Failures.describe(delivery) + "; it must return a topic name");
            e.addSuppressed(failure);
            throw e;
        }
        Map<String, String> headers = Failures.failureHeaders(delivery, failure, clock.instant());
        headers.put(Headers.ATTEMPTS, Integer.toString(delivery.attempt()));
        headers.put(Headers.DEAD_LETTER_REASON, reason);
        headers.put(Headers.DEAD_LETTER_GROUP, delivery.group());
        Message deadLetter = delivery.message().withHeaders(headers);

        publishDurably(topic, deadLetter, delivery, failure);
        delivery.markDeadLettered(topic, reason);
        log.warn("dead-lettered {} to '{}' ({}: {})", Failures.describe(delivery), topic, reason,
                headers.get(Headers.EXCEPTION_CLASS));
    }

    private void publishDurably(String topic, Message deadLetter, Delivery delivery, Throwable failure)
            throws InterruptedException {
        String what = "could not dead-letter " + Failures.describe(delivery) + " to topic '" + topic + "'";
        CompletableFuture<PublishResult> future = null;
        try {
            future = publisher.publish(topic, deadLetter);
            future.get(publishTimeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw withFailure(new PublishException(topic, what + ": " + Failures.unwrap(e), Failures.unwrap(e)), failure);
        } catch (TimeoutException e) {
            future.cancel(false);
            throw withFailure(new PublishException(topic, what + ": publish not confirmed within " + publishTimeout, e), failure);
        } catch (InterruptedException e) {
            e.addSuppressed(failure);
            throw e;
        } catch (RuntimeException e) {
            throw withFailure(new PublishException(topic, what + ": " + e, e), failure);
        }
    }

    private static PublishException withFailure(PublishException e, Throwable handlerFailure) {
        e.addSuppressed(handlerFailure);
        return e;
    }

    @Override
    public String toString() {
        return "DeadLetterMiddleware{publishTimeout=" + publishTimeout + '}';
    }

    /** Builds a {@link DeadLetterMiddleware}. Not thread-safe. */
    public static final class Builder {
        private final Publisher publisher;
        private Function<Delivery, String> topicNamer = DeadLetterMiddleware::defaultTopic;
        private Predicate<Throwable> nonRetryableIf = RetryMiddleware::isNonRetryable;
        private Duration publishTimeout = DEFAULT_PUBLISH_TIMEOUT;
        private Clock clock = Clock.systemUTC();

        private Builder(Publisher publisher) {
            this.publisher = Objects.requireNonNull(publisher, "publisher");
        }

        /** Chooses the dead-letter topic per delivery (default {@code <topic>.dlq}). */
        public Builder topicNamer(Function<Delivery, String> topicNamer) {
            this.topicNamer = Objects.requireNonNull(topicNamer, "topicNamer");
            return this;
        }

        /**
         * Which failures get reason {@value #REASON_NON_RETRYABLE} (default: those that are or are caused
         * by a {@link io.courier.NonRetryableException}). With a custom retry predicate pass
         * {@code e -> !retry.isRetryable(e)} so the reason matches what the retry decided.
         */
        public Builder nonRetryableIf(Predicate<Throwable> nonRetryableIf) {
            this.nonRetryableIf = Objects.requireNonNull(nonRetryableIf, "nonRetryableIf");
            return this;
        }

        /**
         * How long to wait for the dead-letter publish to be durable (default 30 s) before giving up,
         * leaving the source message unacknowledged.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder publishTimeout(Duration publishTimeout) {
            Objects.requireNonNull(publishTimeout, "publishTimeout");
            if (publishTimeout.isZero() || publishTimeout.isNegative()) {
                throw new IllegalArgumentException("publishTimeout must be > 0, but was " + publishTimeout);
            }
            this.publishTimeout = publishTimeout;
            return this;
        }

        /** The clock for the failure timestamps (default: system UTC). */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Builds the middleware. */
        public DeadLetterMiddleware build() {
            return new DeadLetterMiddleware(this);
        }
    }
}
