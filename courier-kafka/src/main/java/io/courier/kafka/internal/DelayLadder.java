package io.courier.kafka.internal;

import java.time.Duration;
import java.util.List;

/**
 * The delay topics: a small ladder of topics, each with one fixed delay. A record waiting for
 * {@code d} goes to the largest step not longer than what remains (or the smallest step), and is due
 * at {@code min(now + step, deliverAt)}; when it is due the forwarder either delivers it or sends it
 * to the next, smaller step. Because every record of one topic waits the same step, records become
 * due in the order they were written: a long delay never holds back a short one, which sits in
 * another topic. Immutable.
 */
public final class DelayLadder {

    /**
     * One step of the ladder.
     *
     * @param name  short name, the suffix of the topic ({@code 30s})
     * @param delay the step's delay
     * @param topic the topic holding records waiting for this step
     */
    public record Step(String name, Duration delay, String topic) {
        /** How long records are kept: long enough for the step even if the forwarder is down for days. */
        public Duration retention() {
            Duration week = Duration.ofDays(7);
            Duration fourSteps = delay.multipliedBy(4);
            return fourSteps.compareTo(week) > 0 ? fourSteps : week;
        }
    }

    private final List<Step> steps;

    /** The standard ladder (1 s, 5 s, 30 s, 2 min, 10 min, 1 h, 6 h) with topics named {@code prefix + name}. */
    public DelayLadder(String prefix) {
        this.steps = List.of(
                step(prefix, "1s", Duration.ofSeconds(1)),
                step(prefix, "5s", Duration.ofSeconds(5)),
                step(prefix, "30s", Duration.ofSeconds(30)),
                step(prefix, "2m", Duration.ofMinutes(2)),
                step(prefix, "10m", Duration.ofMinutes(10)),
                step(prefix, "1h", Duration.ofHours(1)),
                step(prefix, "6h", Duration.ofHours(6)));
    }

    private static Step step(String prefix, String name, Duration delay) {
        return new Step(name, delay, prefix + name);
    }

    /** The steps, shortest first. */
    public List<Step> steps() {
        return steps;
    }

    /** The topic names of all steps. */
    public List<String> topics() {
        return steps.stream().map(Step::topic).toList();
    }

    /** The step for a record with {@code remaining} time to wait: the largest not longer, else the smallest. */
    public Step stepFor(Duration remaining) {
        Step chosen = steps.get(0);
        for (Step s : steps) {
            if (s.delay().compareTo(remaining) <= 0) {
                chosen = s;
            }
        }
        return chosen;
    }

    /** True when {@code topic} is one of the ladder's topics. */
    public boolean isStepTopic(String topic) {
        return steps.stream().anyMatch(s -> s.topic().equals(topic));
    }
}
