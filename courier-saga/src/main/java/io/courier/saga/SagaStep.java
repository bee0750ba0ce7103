package io.courier.saga;

import io.courier.spi.Settings;
import java.time.Duration;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * One step of a {@link SagaDefinition}: an action, an optional compensation, and what to do when
 * the action fails or does not answer. Immutable; build with {@link #named(String)}.
 *
 * <p>A step's action is either a <b>command</b>, a message sent to a participant (through the
 * outbox, in the transaction that records the saga's progress) whose reply moves the saga on, or a
 * <b>local</b> function run in that transaction. The same holds for its compensation.
 *
 * @param <D> the saga's data type
 */
public final class SagaStep<D> {

    /** Default time to wait for a reply. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    /** Default attempts of an action (the first one included) before the step counts as failed. */
    public static final int DEFAULT_MAX_ATTEMPTS = 3;
    /** Default attempts of a compensation before the saga is {@link SagaState#COMPENSATION_STUCK}. */
    public static final int DEFAULT_COMPENSATION_ATTEMPTS = 5;

    private final String name;
    private final Action<D> action;
    private final Action<D> compensation;
    private final BiFunction<D, SagaReply, D> onSuccess;
    private final Duration timeout;
    private final TimeoutAction onTimeout;
    private final int maxAttempts;
    private final int compensationAttempts;
    private final Duration minBackoff;
    private final Duration maxBackoff;
    private final boolean retriable;
    private final boolean pivot;

    private SagaStep(Builder<D> b) {
        this.name = b.name;
        this.action = Objects.requireNonNull(b.action, () -> "step '" + b.name + "' has no action: call command(...) or local(...)");
        this.compensation = b.compensation;
        this.onSuccess = b.onSuccess;
        this.timeout = b.timeout;
        this.onTimeout = b.onTimeout;
        this.maxAttempts = b.maxAttempts;
        this.compensationAttempts = b.compensationAttempts;
        this.minBackoff = b.minBackoff;
        this.maxBackoff = b.maxBackoff;
        this.retriable = b.retriable;
        this.pivot = b.pivot;
        if (retriable && compensation != null) {
            throw new IllegalArgumentException("step '" + name + "' is retriable, so it is never compensated: remove its compensation");
        }
    }

    /** Starts a step called {@code name} (unique within its saga; it names the step in logs and commands). */
    public static <D> Builder<D> named(String name) {
        return new Builder<>(name);
    }

    /** The step's name. */
    public String name() {
        return name;
    }

    /** Whether the step has a compensation. */
    public boolean compensable() {
        return compensation != null;
    }

    /** Whether the step is retried until it succeeds and never compensated. */
    public boolean retriable() {
        return retriable;
    }

    /** Whether the step is the pivot: once it succeeded, the saga only goes forward. */
    public boolean pivot() {
        return pivot;
    }

    /** How long a command waits for its reply. */
    public Duration timeout() {
        return timeout;
    }

    /** What a missing reply leads to. */
    public TimeoutAction onTimeout() {
        return onTimeout;
    }

    /** Attempts of the action, the first included ({@link Integer#MAX_VALUE} for a retriable step). */
    public int maxAttempts() {
        return retriable ? Integer.MAX_VALUE : maxAttempts;
    }

    /** Attempts of the compensation before the saga is surfaced as stuck. */
    public int compensationAttempts() {
        return compensationAttempts;
    }

    /** The wait before attempt {@code attempt + 1}: the minimum backoff doubling per attempt, capped. */
    public Duration backoff(int attempt) {
        double millis = minBackoff.toMillis() * Math.pow(2, Math.min(Math.max(0, attempt - 1), 40));
        return Duration.ofMillis((long) Math.min(millis, maxBackoff.toMillis()));
    }

    /** The action (for the orchestrator). */
    public Action<D> action() {
        return action;
    }

    /** The compensation, or null. */
    public Action<D> compensation() {
        return compensation;
    }

    /** The saga's data after a successful reply. */
    public D afterSuccess(D data, SagaReply reply) {
        return onSuccess == null ? data : onSuccess.apply(data, reply);
    }

    @Override
    public String toString() {
        return "SagaStep[" + name + (pivot ? ", pivot" : "") + (retriable ? ", retriable" : "") + "]";
    }

    /**
     * What a step does: send a command to {@code topic} of {@code destination} (an outbox destination
     * name, or null for the saga store's own SQL transport) with the payload {@code payload} makes
     * from the data, or run {@code local}.
     *
     * @param <D> the saga's data type
     */
    public record Action<D>(String destination, String topic, Function<D, Object> payload, LocalAction<D> local) {

        /** Whether the action runs in the orchestrator's transaction. */
        public boolean isLocal() {
            return local != null;
        }
    }

    /** Configures a {@link SagaStep}. Not thread-safe. */
    public static final class Builder<D> {

        private final String name;
        private Action<D> action;
        private Action<D> compensation;
        private BiFunction<D, SagaReply, D> onSuccess;
        private Duration timeout = DEFAULT_TIMEOUT;
        private TimeoutAction onTimeout = TimeoutAction.RETRY;
        private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
        private int compensationAttempts = DEFAULT_COMPENSATION_ATTEMPTS;
        private Duration minBackoff = Duration.ofSeconds(1);
        private Duration maxBackoff = Duration.ofMinutes(1);
        private boolean retriable;
        private boolean pivot;

        private Builder(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank() || name.length() > 100) {
                throw new IllegalArgumentException("a step name must be 1 to 100 characters, but was '" + name + "'");
            }
            this.name = name;
        }

        /**
         * The action is a command to {@code topic} on the saga store's own SQL transport; its payload is
         * {@code payload(data)} as JSON (a {@code byte[]} or {@code String} is sent as it is).
         */
        public Builder<D> command(String topic, Function<D, Object> payload) {
            return command(null, topic, payload);
        }

        /** The action is a command to {@code topic} of outbox destination {@code destination} (see {@link #command(String, Function)}). */
        public Builder<D> command(String destination, String topic, Function<D, Object> payload) {
            this.action = new Action<>(destination, requireTopic(topic), Objects.requireNonNull(payload, "payload"), null);
            return this;
        }

        /** The action runs in the orchestrator's transaction. */
        public Builder<D> local(LocalAction<D> local) {
            this.action = new Action<>(null, null, null, Objects.requireNonNull(local, "local"));
            return this;
        }

        /** The compensation is a command to {@code topic} on the saga store's SQL transport. */
        public Builder<D> compensation(String topic, Function<D, Object> payload) {
            return compensation(null, topic, payload);
        }

        /** The compensation is a command to {@code topic} of outbox destination {@code destination}. */
        public Builder<D> compensation(String destination, String topic, Function<D, Object> payload) {
            this.compensation = new Action<>(destination, requireTopic(topic), Objects.requireNonNull(payload, "payload"), null);
            return this;
        }

        /** The compensation runs in the orchestrator's transaction. */
        public Builder<D> localCompensation(LocalAction<D> local) {
            this.compensation = new Action<>(null, null, null, Objects.requireNonNull(local, "local"));
            return this;
        }

        /** Updates the saga's data from a successful reply (for example, to keep a charge id for the refund). */
        public Builder<D> onSuccess(BiFunction<D, SagaReply, D> onSuccess) {
            this.onSuccess = Objects.requireNonNull(onSuccess, "onSuccess");
            return this;
        }

        /** How long a command waits for its reply (default 30 s, 10 ms to 30 days). */
        public Builder<D> timeout(Duration timeout) {
            this.timeout = Settings.between(timeout, Duration.ofMillis(10), Duration.ofDays(30), "timeout");
            return this;
        }

        /** What a missing reply leads to (default {@link TimeoutAction#RETRY}). */
        public Builder<D> onTimeout(TimeoutAction onTimeout) {
            this.onTimeout = Objects.requireNonNull(onTimeout, "onTimeout");
            return this;
        }

        /** Attempts of the action, the first included (default 3, 1 to 1,000). */
        public Builder<D> maxAttempts(int maxAttempts) {
            this.maxAttempts = Settings.between(maxAttempts, 1, 1000, "maxAttempts");
            return this;
        }

        /** Attempts of the compensation before the saga is surfaced as stuck (default 5, 1 to 1,000). */
        public Builder<D> compensationAttempts(int compensationAttempts) {
            this.compensationAttempts = Settings.between(compensationAttempts, 1, 1000, "compensationAttempts");
            return this;
        }

        /** The wait before a new attempt: {@code min} (default 1 s) doubling up to {@code max} (default 1 min). */
        public Builder<D> backoff(Duration min, Duration max) {
            this.minBackoff = Settings.between(min, Duration.ZERO, Duration.ofDays(1), "min");
            this.maxBackoff = Settings.between(max, min, Duration.ofDays(1), "max");
            return this;
        }

        /**
         * Marks the step retriable: it is tried again after every failure, business refusals included,
         * until it succeeds, and it is never compensated. Steps after the pivot should be retriable.
         */
        public Builder<D> retriable() {
            this.retriable = true;
            return this;
        }

        /** Marks the step as the pivot: once it succeeded, the saga cannot compensate and only goes forward. */
        public Builder<D> pivot() {
            this.pivot = true;
            return this;
        }

        /** The step. */
        public SagaStep<D> build() {
            return new SagaStep<>(this);
        }

        private static String requireTopic(String topic) {
            Objects.requireNonNull(topic, "topic");
            if (topic.isBlank()) {
                throw new IllegalArgumentException("topic must not be blank");
            }
            return topic;
        }
    }
}
