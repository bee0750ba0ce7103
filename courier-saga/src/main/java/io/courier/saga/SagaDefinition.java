package io.courier.saga;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A saga type: a name, the type of its data (stored as JSON), and its steps in order. Immutable.
 *
 * <pre>{@code
 * SagaDefinition<Order> saga = SagaDefinition.builder("order", Order.class)
 *     .step(SagaStep.<Order>named("reserve-stock")
 *             .command("rabbitmq", "inventory.reserve", o -> new Reserve(o.id(), o.items()))
 *             .compensation("rabbitmq", "inventory.release", o -> new Release(o.id())))
 *     .step(SagaStep.<Order>named("charge").command("payment.charge", o -> new Charge(o.id(), o.total()))
 *             .compensation("payment.refund", o -> new Refund(o.id()))
 *             .timeout(Duration.ofSeconds(10)).pivot())
 *     .step(SagaStep.<Order>named("confirm").local((o, tx) -> confirm(tx, o)).retriable())
 *     .build();
 * }</pre>
 *
 * @param <D> the data type: a record or bean that Jackson can write and read
 */
public final class SagaDefinition<D> {

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

    private final String name;
    private final Class<D> dataType;
    private final List<SagaStep<D>> steps;
    private final int pivot;

    private SagaDefinition(Builder<D> b) {
        this.name = b.name;
        this.dataType = b.dataType;
        this.steps = List.copyOf(b.steps);
        if (steps.isEmpty()) {
            throw new IllegalArgumentException("saga '" + name + "' has no steps");
        }
        int p = -1;
        Set<String> names = new HashSet<>();
        for (int i = 0; i < steps.size(); i++) {
            SagaStep<D> s = steps.get(i);
            if (!names.add(s.name())) {
                throw new IllegalArgumentException("saga '" + name + "' has two steps named '" + s.name() + "'");
            }
            if (s.pivot()) {
                if (p >= 0) {
                    throw new IllegalArgumentException("saga '" + name + "' has two pivots: '" + steps.get(p).name()
                            + "' and '" + s.name() + "'");
                }
                p = i;
            }
        }
        this.pivot = p;
    }

    /** Starts a saga type called {@code name} (letters, digits, {@code . _ -}) with data of {@code dataType}. */
    public static <D> Builder<D> builder(String name, Class<D> dataType) {
        return new Builder<>(name, dataType);
    }

    /** The saga type's name. */
    public String name() {
        return name;
    }

    /** The data type. */
    public Class<D> dataType() {
        return dataType;
    }

    /** The steps, in order. */
    public List<SagaStep<D>> steps() {
        return steps;
    }

    /** The index of the pivot step, or -1. */
    public int pivotIndex() {
        return pivot;
    }

    @Override
    public String toString() {
        return "SagaDefinition[" + name + ", " + steps.size() + " steps]";
    }

    /** Configures a {@link SagaDefinition}. Not thread-safe. */
    public static final class Builder<D> {

        private final String name;
        private final Class<D> dataType;
        private final List<SagaStep<D>> steps = new ArrayList<>();

        private Builder(String name, Class<D> dataType) {
            Objects.requireNonNull(name, "name");
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("a saga name must be letters, digits, '.', '_' or '-' (up to 100), but was '"
                        + name + "'");
            }
            this.name = name;
            this.dataType = Objects.requireNonNull(dataType, "dataType");
        }

        /** Adds the next step. */
        public Builder<D> step(SagaStep.Builder<D> step) {
            steps.add(step.build());
            return this;
        }

        /** Adds the next step. */
        public Builder<D> step(SagaStep<D> step) {
            steps.add(Objects.requireNonNull(step, "step"));
            return this;
        }

        /** The definition. */
        public SagaDefinition<D> build() {
            return new SagaDefinition<>(this);
        }
    }
}
